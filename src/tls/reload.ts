/**
 * Reloading a running node's certificates: on SIGHUP, and when a TLS file changes on disk (a
 * Kubernetes Secret or cert-manager renewing it; the files are polled, so a symlink swap is seen
 * too). The files are read and checked as at start; a set that is refused (a key written before
 * its certificate, say) is logged and the node keeps serving with what it has, until the next
 * change or signal. New connections get the new certificates; established ones go on.
 */

import { unwatchFile, watchFile } from "node:fs";
import { ConfigError } from "../config/errors.js";
import type { Logger } from "../util/logger.js";
import { loadNodeTls, tlsFiles, type NodeTlsMaterial, type TlsSettings } from "./node-tls.js";

/** How often the files are polled, and how long changes settle before a reload. */
export interface ReloadTiming {
  readonly pollIntervalMs: number;
  readonly settleMs: number;
}

/** Polled every ten seconds; a certificate and its key written one after the other are read together. */
export const DEFAULT_RELOAD_TIMING: ReloadTiming = { pollIntervalMs: 10_000, settleMs: 500 };

/**
 * Watches the files `settings` names and hands every good new set to `apply`; returns the function
 * that stops watching. `reload()` of the result reloads at once (what SIGHUP does).
 */
export function watchTlsFiles(
  settings: TlsSettings,
  apply: (material: NodeTlsMaterial) => void,
  log: Logger,
  timing: ReloadTiming = DEFAULT_RELOAD_TIMING,
): { stop(): void; reload(): boolean } {
  const files = tlsFiles(settings);
  let pending: NodeJS.Timeout | null = null;
  const reload = (): boolean => {
    const material = loadNodeTls(settings);
    if (material instanceof ConfigError) {
      log.error(
        { code: material.code, reason: material.message },
        "TLS files not reloaded; keeping the current ones",
      );
      return false;
    }
    apply(material);
    log.info({ files }, "TLS files reloaded");
    return true;
  };
  const soon = (): void => {
    if (pending !== null) clearTimeout(pending);
    pending = setTimeout(() => {
      pending = null;
      reload();
    }, timing.settleMs);
    pending.unref();
  };
  const onChange = (
    current: { mtimeMs: number; ino: number },
    previous: { mtimeMs: number; ino: number },
  ) => {
    if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino) soon();
  };
  for (const file of files) watchFile(file, { interval: timing.pollIntervalMs, persistent: false }, onChange);
  const onSignal = (): void => {
    log.info({}, "SIGHUP: reloading the TLS files");
    reload();
  };
  process.on("SIGHUP", onSignal);
  return {
    reload,
    stop() {
      process.off("SIGHUP", onSignal);
      for (const file of files) unwatchFile(file, onChange);
      if (pending !== null) clearTimeout(pending);
    },
  };
}
