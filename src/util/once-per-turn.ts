/** Coalescing work to the end of an event-loop turn. */

/**
 * Returns a function that schedules `run` once, after the current event-loop turn, however often
 * it is called before then: everything that arrived in the turn is handled together (one append
 * and one fsync in the node driver, one frame per peer in the transport).
 */
export function oncePerTurn(run: () => void): () => void {
  let scheduled = false;
  return () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      run();
    });
  };
}
