/**
 * Agent health, read top to bottom: the words (types), the failure detector (phi), hysteresis shared
 * by every kind of signal, the settings, one agent's state machine (status), the leader's monitor of
 * many agents, and the active checks with their runner (the only parts that do I/O).
 */

export {
  HEALTH_STATUSES,
  type BeatLoad,
  type CheckResult,
  type HealthStatus,
  type Transition,
} from "./types.js";
export {
  DEFAULT_PHI_OPTIONS,
  MAX_PHI_WINDOW_SIZE,
  MAX_SUSPECT_PHI,
  PhiAccrualDetector,
  phiOf,
  resolvePhiOptions,
  standardScoreForPhi,
  type PhiOptions,
} from "./phi.js";
export { SignalTrack, type HysteresisThresholds, type Signal, type SignalLevel } from "./hysteresis.js";
export {
  DEFAULT_HEALTH_SETTINGS,
  MAX_FAILURE_TIMEOUT_MS,
  MAX_HEARTBEAT_INTERVAL_MS,
  MAX_THRESHOLD_RUN,
  resolveHealthSettings,
  type HealthOverrides,
  type HealthSettings,
} from "./settings.js";
export {
  AgentHealth,
  CHECK_HISTORY_LENGTH,
  MAX_CHECK_DETAIL_LENGTH,
  type HealthReport,
  type HealthStart,
  type RecordedCheck,
  type StreamReport,
} from "./status.js";
export {
  DEFAULT_MONITOR_OPTIONS,
  HealthMonitor,
  type AgentTransition,
  type MonitorOptions,
} from "./monitor.js";
export {
  DEFAULT_CHECK_TIMEOUT_MS,
  DEFAULT_HEALTH_PATH,
  HttpCheck,
  OVERLOADED_HEADER,
  TcpCheck,
  describeError,
  healthUrl,
  type Check,
  type CheckOptions,
} from "./checks.js";
export {
  CheckRunner,
  DEFAULT_CHECK_RUNNER_OPTIONS,
  type CheckRunnerOptions,
  type CheckRunnerStats,
  type CheckTarget,
} from "./check-runner.js";
