/** Node ids and the initial cluster list `id=host:port,...`. */

import { formatAddress, isWildcard, parseAddress, type Address } from "./address.js";
import { Invalid, quote } from "./errors.js";
import type { NodeId } from "../raft/index.js";

/** One member of the initial cluster: its id and the Raft address the others dial. */
export interface Peer {
  readonly id: NodeId;
  readonly raftAddress: Address;
}

/** The form every peer list error asks for. */
export const PEERS_FORM = "id=host:raftport,... for example n1=10.0.0.1:9090,n2=10.0.0.2:9090";

/** The form every node id error asks for. */
export const NODE_ID_FORM = "1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit";

/**
 * A bound on the initial cluster. Raft clusters have 3, 5 or 7 voters; far more than that is a
 * typo or a pasted file, and every member costs a connection and a heartbeat per tick.
 */
export const PEERS_MAX = 64;

// Ids name the data directory (./data/<id>) and sit inside the peer list, so they exclude '/',
// '=', ',' and whitespace; 63 characters fits a DNS label and a Kubernetes pod name.
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Checks a node id. */
export function parseNodeId(text: string): NodeId | Invalid {
  return NODE_ID.test(text)
    ? text
    : new Invalid("malformed_id", `expected ${NODE_ID_FORM}, got ${quote(text)}`);
}

/**
 * Parses the initial cluster. Spaces around items and empty items (a trailing comma) are
 * ignored; ids and addresses must be unique. The result is sorted by id so that every node
 * derives the same initial membership whatever order its operator wrote the list in.
 */
export function parsePeers(text: string): readonly Peer[] | Invalid {
  const items = text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  if (items.length === 0) return new Invalid("malformed_peers", `expected ${PEERS_FORM}, got no peers`);
  if (items.length > PEERS_MAX) {
    return new Invalid("out_of_range", `expected at most ${PEERS_MAX} peers, got ${items.length}`);
  }
  const peers: Peer[] = [];
  for (const item of items) {
    const peer = parsePeer(item);
    if (peer instanceof Invalid) return peer;
    const clash = peers.find(
      (other) => other.id === peer.id || formatAddress(other.raftAddress) === formatAddress(peer.raftAddress),
    );
    if (clash !== undefined) {
      const what =
        clash.id === peer.id ? `id ${quote(peer.id)}` : `address ${formatAddress(peer.raftAddress)}`;
      return new Invalid("duplicate_peer", `expected each id and address once, got ${what} twice`);
    }
    peers.push(peer);
  }
  return peers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The text of a peer list; parsePeers reads it back. */
export function formatPeers(peers: readonly Peer[]): string {
  return peers.map((peer) => `${peer.id}=${formatAddress(peer.raftAddress)}`).join(",");
}

/** Parses one `id=host:port` item. */
function parsePeer(item: string): Peer | Invalid {
  const equals = item.indexOf("=");
  if (equals < 0) {
    return new Invalid("malformed_peers", `expected ${PEERS_FORM}, got item ${quote(item)} without '='`);
  }
  const id = parseNodeId(item.slice(0, equals).trim());
  if (id instanceof Invalid) return new Invalid("malformed_peers", `in item ${quote(item)}: ${id.reason}`);
  const raftAddress = parseAddress(item.slice(equals + 1).trim());
  if (raftAddress instanceof Invalid) {
    return new Invalid("malformed_peers", `in item ${quote(item)}: ${raftAddress.reason}`);
  }
  if (isWildcard(raftAddress)) {
    return new Invalid(
      "malformed_peers",
      `in item ${quote(item)}: a peer's address is dialled by the others, so it cannot be 0.0.0.0 or ::`,
    );
  }
  return { id, raftAddress };
}
