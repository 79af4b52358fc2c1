/**
 * A parser of server-sent events (the WHATWG event-stream format) for streams read with fetch():
 * EventSource cannot send an Authorization header, so the page reads the bytes itself. Text goes
 * in as it arrives, in chunks cut anywhere; whole events come out. No DOM: the tests run it too.
 */

/** One event. */
export interface StreamEvent {
  /** The `event:` field, or "message". */
  readonly event: string;
  /** The `data:` lines, joined by newlines. */
  readonly data: string;
  /** The last `id:` field seen, or null. */
  readonly id: string | null;
}

/** Longest line the parser holds while waiting for its end; a longer one is a broken stream. */
export const MAX_LINE_CHARS = 8 * 1024 * 1024;

/** Turns chunks of an event stream into events. */
export class EventStreamParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];
  private lastId: string | null = null;
  /** Whether the last chunk ended in "\r" (a "\n" may start the next one: one line end, not two). */
  private pendingCarriageReturn = false;

  /** Feeds `chunk`; returns the events it completed. */
  push(chunk: string): StreamEvent[] {
    let text = chunk;
    if (this.pendingCarriageReturn && text.startsWith("\n")) text = text.slice(1);
    this.pendingCarriageReturn = text.endsWith("\r");
    this.buffer += text;
    const events: StreamEvent[] = [];
    for (;;) {
      const end = this.buffer.search(/\r\n|\r|\n/);
      if (end < 0) break;
      const line = this.buffer.slice(0, end);
      const breakLength = this.buffer.startsWith("\r\n", end) ? 2 : 1;
      this.buffer = this.buffer.slice(end + breakLength);
      const event = this.line(line);
      if (event !== null) events.push(event);
    }
    if (this.buffer.length > MAX_LINE_CHARS) throw new Error("event stream line too long");
    return events;
  }

  private line(line: string): StreamEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.lastId = value;
    return null;
  }

  private dispatch(): StreamEvent | null {
    const event = this.event === "" ? "message" : this.event;
    const data = this.data;
    this.event = "";
    this.data = [];
    if (data.length === 0) return null;
    return { event, data: data.join("\n"), id: this.lastId };
  }
}
