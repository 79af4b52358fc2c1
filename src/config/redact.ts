/** A view of a config that is safe to log. */

import type { NodeConfig } from "./node-config.js";
import { OPTIONS, settingText } from "./option-table.js";

/**
 * Every setting by its variable's name, as the text that variable would be set to (so in its
 * unit); secrets masked, unset ones null. Plus the derived Raft timing.
 */
export interface RedactedConfig extends Pick<NodeConfig, "tickMs" | "raftOptions"> {
  readonly settings: Readonly<Record<string, string | null>>;
}

/**
 * The config as logs may show it: every setting as the text that would set it, except that
 * secrets read `[redacted]` and a database URL has its password masked.
 */
export function redactedConfig(config: NodeConfig): RedactedConfig {
  const settings = Object.fromEntries(
    OPTIONS.map((option) => [option.env, settingText(option, config, true)]),
  );
  return { settings, tickMs: config.tickMs, raftOptions: config.raftOptions };
}
