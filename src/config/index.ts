/**
 * The configuration of juno's command line: what `juno start`, `juno dev` and `juno status`
 * accept, how it is checked, and how it is shown.
 */

export {
  formatAddress,
  isLoopback,
  isWildcard,
  localDialAddress,
  parseAddress,
  type Address,
} from "./address.js";
export { wantsHelp } from "./argv.js";
export type { Codec } from "./codecs.js";
export {
  defineCommand,
  parseCommand,
  refusalText,
  type CommandOption,
  type CommandOptions,
  type CommandSpec,
  type CommandValues,
} from "./command.js";
export {
  DEV_COMMAND,
  DEV_NODES_MAX,
  devNodeArguments,
  type DevNode,
  type DevNodeTls,
  type DevSettings,
} from "./dev-command.js";
export { CONFIG_ERROR_CODES, ConfigError, type ConfigErrorCode } from "./errors.js";
export { checkExposure, type ExposureSettings } from "./exposure.js";
export {
  RESERVED_PREFIX,
  commandHelpText,
  helpText,
  markdownErrorCodesTable,
  markdownOptionsTable,
} from "./help.js";
export { toInvocation, type Invocation } from "./invocation.js";
export { parseNodeConfig, type Environment, type NodeConfig } from "./node-config.js";
export {
  LOG_FORMATS,
  LOG_LEVELS,
  OPTIONS,
  SERVICE_DISCOVERY_ALIASES,
  SERVICE_DISCOVERY_TYPES,
  type AnyOptionDescriptor,
  type LogFormat,
  type LogLevel,
  type OptionDescriptor,
  type OptionGroup,
  type ServiceDiscoveryType,
  type SettingKey,
  type Settings,
} from "./option-table.js";
export { formatPeers, parsePeers, type Peer } from "./peers.js";
export { deriveRaftTiming, type ConfiguredRaftOptions, type RaftTiming } from "./raft-timing.js";
export { redactedConfig, type RedactedConfig } from "./redact.js";
export { REDACTED_TEXT, Secret } from "./secret.js";
export { STATUS_COMMAND, type StatusSettings } from "./status-command.js";
export type { Storage } from "./storage.js";
