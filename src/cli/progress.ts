/**
 * Progress of a command that waits (a task, a run, a promotion, a leader): a status line on
 * stderr, redrawn in place with a spinner and the seconds waited, and lines that stay for what
 * happened on the way. Only on a terminal, and never with --json or --quiet, so that nothing of
 * it reaches a pipe, a log or a program reading the output; stdout never carries any of it.
 */

import type { CommandIo, OutputStream } from "./output.js";
import { printable } from "./output.js";

/** The spinner's frames, plain ASCII so that any terminal shows them. */
const FRAMES = ["-", "\\", "|", "/"];

/** Erases the current line and goes back to its start. */
const CLEAR_LINE = "\r\u001b[2K";

/** What a waiting command says about its progress; every method does nothing when progress is off. */
export interface Progress {
  /** Whether anything is shown at all. */
  readonly enabled: boolean;
  /** Shows `text` as where the wait stands, with the spinner and the seconds since the start. */
  update(text: string): void;
  /** Prints a line that stays (the status line, if any, is drawn again under it). */
  line(text: string): void;
  /** Erases the status line; call it before printing the result. */
  done(): void;
}

/** Whether progress shows: stderr is a terminal and neither --json nor --quiet was given. */
export function progressEnabled(
  io: CommandIo,
  output: { readonly json: boolean; readonly quiet: boolean },
): boolean {
  return io.stderr.isTTY === true && !output.json && !output.quiet;
}

/** The progress of one wait, on `io.stderr`; `now` is the clock the seconds are counted on. */
export function progressFor(
  io: CommandIo,
  output: { readonly json: boolean; readonly quiet: boolean },
  now: () => number = Date.now,
): Progress {
  return progressEnabled(io, output) ? new TerminalProgress(io.stderr, now) : SILENT;
}

/** Progress that shows nothing. */
const SILENT: Progress = {
  enabled: false,
  update: () => undefined,
  line: () => undefined,
  done: () => undefined,
};

/** Progress drawn on a terminal. */
class TerminalProgress implements Progress {
  readonly enabled = true;
  private readonly startMs: number;
  private frame = 0;
  /** The status line on screen now, or null. */
  private shown: string | null = null;

  constructor(
    private readonly stream: OutputStream,
    private readonly now: () => number,
  ) {
    this.startMs = now();
  }

  update(text: string): void {
    const seconds = Math.max(0, Math.floor((this.now() - this.startMs) / 1000));
    const frame = FRAMES[this.frame++ % FRAMES.length] ?? "";
    this.shown = this.fit(`${frame} ${printable(text)} (${seconds} s)`);
    this.stream.write(`${CLEAR_LINE}${this.shown}`);
  }

  line(text: string): void {
    const again = this.shown === null ? "" : this.shown;
    this.stream.write(`${this.shown === null ? "" : CLEAR_LINE}${printable(text)}\n${again}`);
  }

  done(): void {
    if (this.shown !== null) this.stream.write(CLEAR_LINE);
    this.shown = null;
  }

  /** The line cut to the terminal's width, so that it never wraps (a wrapped line cannot be redrawn). */
  private fit(text: string): string {
    // A pseudo-terminal may say it is 0 columns wide; that is no width to fit in.
    const columns = (this.stream.columns ?? 0) >= 20 ? (this.stream.columns ?? 80) : 80;
    return text.length < columns ? text : `${text.slice(0, Math.max(1, columns - 4))}...`;
  }
}
