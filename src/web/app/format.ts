/** How the page writes times, durations and counts. */

/** "12 s ago", "3 min ago", "2 h ago", from an ISO time (or ms since the epoch) and now. */
export function ago(time: string | number | null, nowMs = Date.now()): string {
  if (time === null) return "never";
  const ms = nowMs - (typeof time === "number" ? time : Date.parse(time));
  return `${duration(Math.max(0, ms))} ago`;
}

/** "850 ms", "12 s", "3 min", "2 h 5 min", "3 d". */
export function duration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "—";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1_000;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d`;
}

/** A clock time, "14:03:27", local. */
export function clock(time: string | number): string {
  return new Date(time).toLocaleTimeString(undefined, { hour12: false });
}

/** A count with thousands separators. */
export function count(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : value.toLocaleString();
}

/** The first 8 characters of a UUID, for tables (the whole one is in the title). */
export function shortId(id: string | null): string {
  return id === null ? "—" : id.slice(0, 8);
}
