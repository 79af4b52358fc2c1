/**
 * Graph checks over the steps' dependencies: cycles (named in order), a topological order, and
 * the upstream (ancestor) sets that template references are checked against. Steps are indexes
 * into the definition's step list; `deps[i]` lists the indexes step i depends on.
 */

/** A cycle found in the dependencies: the steps in it, each depending on the next (the last on the first). */
export interface Cycle {
  readonly steps: readonly number[];
  /** The dependency that closes the cycle: step `from` lists `to` in its depends_on. */
  readonly from: number;
  readonly to: number;
}

/** Up to `limit` distinct cycles, found by a depth-first walk along depends_on (iterative: no deep recursion). */
export function findCycles(deps: readonly (readonly number[])[], limit: number): Cycle[] {
  const WHITE = 0;
  const GRAY = 1;
  const BLACK = 2;
  const color = new Uint8Array(deps.length);
  const cycles: Cycle[] = [];
  const seen = new Set<string>();
  for (let root = 0; root < deps.length && cycles.length < limit; root++) {
    if (color[root] !== WHITE) continue;
    const stack: number[] = [root];
    const next: number[] = [0];
    color[root] = GRAY;
    while (stack.length > 0 && cycles.length < limit) {
      const top = stack.length - 1;
      const node = stack[top]!;
      const edge = next[top]!;
      const list = deps[node]!;
      if (edge >= list.length) {
        color[node] = BLACK;
        stack.pop();
        next.pop();
        continue;
      }
      next[top] = edge + 1;
      const dep = list[edge]!;
      if (color[dep] === GRAY) {
        const steps = stack.slice(stack.indexOf(dep));
        const key = canonical(steps);
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push({ steps, from: node, to: dep });
        }
      } else if (color[dep] === WHITE) {
        color[dep] = GRAY;
        stack.push(dep);
        next.push(0);
      }
    }
  }
  return cycles;
}

/** The same cycle however it was entered: rotated to start at its smallest index. */
function canonical(steps: readonly number[]): string {
  let start = 0;
  for (let i = 1; i < steps.length; i++) if (steps[i]! < steps[start]!) start = i;
  return [...steps.slice(start), ...steps.slice(0, start)].join(",");
}

/**
 * A topological order (every step after the steps it depends on), ties broken by position in
 * the definition, so the order is stable. Null when the graph has a cycle.
 */
export function topologicalOrder(deps: readonly (readonly number[])[]): number[] | null {
  const count = deps.length;
  const waiting = new Uint32Array(count);
  const dependents: number[][] = Array.from({ length: count }, () => []);
  for (let i = 0; i < count; i++) {
    for (const dep of deps[i]!) dependents[dep]!.push(i);
    waiting[i] = deps[i]!.length;
  }
  const heap = new MinHeap();
  for (let i = 0; i < count; i++) if (waiting[i] === 0) heap.push(i);
  const order: number[] = [];
  while (heap.size > 0) {
    const node = heap.pop();
    order.push(node);
    for (const dependent of dependents[node]!) {
      waiting[dependent]!--;
      if (waiting[dependent] === 0) heap.push(dependent);
    }
  }
  return order.length === count ? order : null;
}

/**
 * For each step, the set of its ancestors (everything it depends on, directly or not), as a
 * bitset; `order` must be topological.
 */
export function ancestorSets(deps: readonly (readonly number[])[], order: readonly number[]): Uint32Array[] {
  const words = Math.ceil(deps.length / 32);
  const sets: Uint32Array[] = Array.from({ length: deps.length }, () => new Uint32Array(words));
  for (const node of order) {
    const set = sets[node]!;
    for (const dep of deps[node]!) {
      const upstream = sets[dep]!;
      for (let w = 0; w < words; w++) set[w]! |= upstream[w]!;
      set[dep >>> 5]! |= 1 << (dep & 31);
    }
  }
  return sets;
}

/** Whether bit `index` is set. */
export function hasBit(set: Uint32Array, index: number): boolean {
  return (set[index >>> 5]! & (1 << (index & 31))) !== 0;
}

/** A binary min-heap of step indexes. */
class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(value: number): void {
    const items = this.items;
    items.push(value);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]! <= value) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = value;
  }

  pop(): number {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child = right < items.length && items[right]! < items[left]! ? right : left;
        if (items[child]! >= last) break;
        items[i] = items[child]!;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}
