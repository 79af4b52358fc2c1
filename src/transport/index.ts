/** The peer transport's public surface: the codec, framing, handshake and PeerTransport itself. */
export { formatAddress, parseAddress, type HostPort } from "./address.js";
export { DEFAULT_BACKOFF, backoffDelayMs, resolveBackoff, type BackoffOptions } from "./backoff.js";
export { CodecError, type CodecErrorCode } from "./codec-error.js";
export {
  DEFAULT_CODEC_LIMITS,
  decodeBatch,
  decodeMessage,
  encodeBatch,
  encodeMessage,
  validateNodeId,
  type CodecLimits,
} from "./codec.js";
export { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameReader, encodeFrame } from "./framing.js";
export {
  ClientHandshake,
  HandshakeError,
  ServerHandshake,
  clusterKey,
  type HandshakeErrorCode,
  type HandshakeRejectReason,
} from "./handshake.js";
export type { InboundStats } from "./inbound-connection.js";
export type { PeerStats } from "./outbound-peer.js";
export {
  PeerTransport,
  type PeerAddresses,
  type PeerTransportOptions,
  type TransportStats,
} from "./peer-transport.js";
export { NODE_TIMERS, type TimerHandle, type Timers } from "./timers.js";
export { TransportError, type TransportErrorCode } from "./transport-error.js";
export {
  isRaftMessage,
  type ForwardedOutcome,
  type ForwardedProposal,
  type PeerMessage,
  type ProposeRequest,
  type ProposeResponse,
} from "./peer-message.js";
