/**
 * A reader of `text/event-stream` (server-sent events), as the HTML standard defines it: text
 * goes in as it arrives, in chunks cut anywhere, and whole events come out. Pure: the caller
 * reads the connection. Lines end in LF, CRLF or CR; a line starting with ":" is a comment (a
 * keep-alive); `event:`, `data:` and `id:` are the fields; a blank line ends an event.
 */

/** One event of the stream. */
export interface StreamEvent {
  /** The `event:` field; "message" when the event names none. */
  readonly name: string;
  /** The `data:` lines, joined with "\n". */
  readonly data: string;
  /** The last `id:` seen so far in the stream, or null before any. */
  readonly id: string | null;
}

/** Reads an event stream chunk by chunk; refuses an event (or a line) longer than its bound. */
export class EventStreamReader {
  /** Text of a line not yet ended. */
  private partial = "";
  /** Whether the last chunk ended in CR, so an LF starting the next one is the same line end. */
  private afterCarriageReturn = false;
  private name = "";
  private data: string[] = [];
  /** Characters of the data read for the event, its line ends counted. */
  private dataLength = 0;
  private lastId: string | null = null;

  constructor(
    /** The longest event accepted, in characters: a bound on what one connection may make us hold. */
    private readonly eventLengthMax: number,
  ) {}

  /** The events that `chunk` completes, in order; throws RangeError when an event passes the bound. */
  push(chunk: string): StreamEvent[] {
    const events: StreamEvent[] = [];
    let text = chunk;
    if (this.afterCarriageReturn && text.startsWith("\n")) text = text.slice(1);
    this.afterCarriageReturn = text.endsWith("\r");
    const lines = text.split(/\r\n|\r|\n/);
    // The last piece has no line end yet: it waits for the next chunk.
    const rest = lines.pop() ?? "";
    for (const line of lines) {
      const whole = this.partial + line;
      this.partial = "";
      const event = this.line(whole);
      if (event !== null) events.push(event);
    }
    this.partial += rest;
    this.check();
    return events;
  }

  /** Takes one whole line; the event it ends, if it is blank and an event was read. */
  private line(line: string): StreamEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.name = value;
        break;
      case "data":
        this.data.push(value);
        this.dataLength += value.length + 1;
        this.check();
        break;
      case "id":
        // The standard ignores an id with a NUL in it.
        if (!value.includes("\u0000")) this.lastId = value;
        break;
      default:
        // retry: and unknown fields are ignored, as the standard says.
        break;
    }
    return null;
  }

  /** Ends the event being read; an event without data is not dispatched, as the standard says. */
  private dispatch(): StreamEvent | null {
    const event =
      this.data.length === 0
        ? null
        : { name: this.name === "" ? "message" : this.name, data: this.data.join("\n"), id: this.lastId };
    this.name = "";
    this.data = [];
    this.dataLength = 0;
    return event;
  }

  /** Invariant: the event's data and the line not yet ended take at most eventLengthMax characters. */
  private check(): void {
    if (this.dataLength + this.partial.length > this.eventLengthMax) {
      throw new RangeError(`an event of the stream is longer than ${this.eventLengthMax} characters`);
    }
  }
}
