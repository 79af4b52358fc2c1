// A real headless Chromium for the dashboard's tests: Debian's package, installed on demand
// through scripts/ensure-system-packages.sh (a fresh CI machine has none), driven by
// playwright-core; every console error and uncaught page error is recorded for the test to check.

import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser, type Page } from "playwright-core";

const run = promisify(execFile);
const CHROMIUM = "/usr/bin/chromium";

/** Where the screenshots go (gitignored). */
export const ARTIFACTS = join(import.meta.dirname, "../../test-artifacts/ui");

/** Installs Debian's chromium when it is missing; quick when it is there. */
export async function ensureChromium(): Promise<void> {
  await run("sh", [join(import.meta.dirname, "../../scripts/ensure-system-packages.sh"), "chromium"], {
    timeout: 600_000,
  });
}

/** Starts headless Chromium. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // Without the background-networking flags Chromium reaches for Google's services, and this
    // closed network refuses those connections.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A console error or uncaught exception of the page, with the URL it names. */
export interface PageProblem {
  readonly kind: "console" | "pageerror";
  readonly text: string;
  readonly url: string;
}

/** Records the page's console errors and uncaught exceptions into `problems`. */
export function recordProblems(page: Page, problems: PageProblem[]): void {
  page.on("console", (message) => {
    if (message.type() === "error")
      problems.push({ kind: "console", text: message.text(), url: message.location().url });
  });
  page.on("pageerror", (error) => problems.push({ kind: "pageerror", text: String(error), url: "" }));
}

/** Saves a screenshot of the whole page as test-artifacts/ui/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
