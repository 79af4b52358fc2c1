/**
 * Peers derived from a Kubernetes StatefulSet, so that every pod runs the very same configuration:
 * the pod's name (RAFT_NODE_ID from metadata.name, `<statefulset>-<ordinal>`) gives its ordinal, the
 * StatefulSet's initial replica count the founding members, and the headless Service's domain the
 * DNS name of every member (`<pod>.<domain>`, which the headless Service publishes per pod).
 *
 * The count is the *initial* one, fixed for the cluster's life like etcd's --initial-cluster:
 * founders write the membership they derive as the entry at index 1, term 1, so two founders that
 * derived different lists would hold different entries under the same index and term, which Raft
 * assumes never happens. A pod with an ordinal at or beyond the count therefore never founds: it
 * joins, and is added through the membership API (deploy/k8s/scale.sh does it).
 */

import { parseAddress, type Address } from "./address.js";
import { integerCodec, type Codec } from "./codecs.js";
import { Invalid, quote } from "./errors.js";
import { PEERS_MAX, type Peer } from "./peers.js";
import type { NodeId } from "../raft/index.js";

/** The form every pod name error asks for. */
export const POD_NAME_FORM =
  "<statefulset>-<ordinal>, the pod's metadata.name (for example juno-phase3-2): lower-case letters, digits and '-'";

/** The form every domain error asks for. */
export const DOMAIN_FORM =
  "a DNS domain of lower-case letters, digits, '-' and '.', for example juno-phase3.default.svc.cluster.local";

/** A pod of a StatefulSet. */
export interface StatefulSetPod {
  /** The StatefulSet's name, the pod name without its ordinal. */
  readonly statefulSet: string;
  /** The pod's ordinal: 0 for the first pod. */
  readonly ordinal: number;
}

/** What a StatefulSet pod derives from its name, the initial count, the domain and its ports. */
export interface StatefulSetMembership {
  readonly pod: StatefulSetPod;
  /**
   * The founders (ordinals 0 to replicas - 1) for a founding pod; for a pod beyond them, every
   * ordinal up to its own, so it knows the addresses of the pods added before it. Sorted by id,
   * as parsePeers sorts, so that the list reads back equal from --peers.
   */
  readonly peers: readonly Peer[];
  /** `<pod>.<domain>:<http port>`: what the other members and clients dial for this node's API. */
  readonly advertiseHttpAddress: Address;
  /** True when the ordinal is at or beyond the initial count: the pod can only join. */
  readonly beyondInitial: boolean;
}

/** The settings the derivation reads. */
export interface StatefulSetInput {
  readonly id: NodeId;
  /** The StatefulSet's initial replica count. */
  readonly replicas: number;
  /** The headless Service's domain. */
  readonly domain: string;
  /** The port every pod's HTTP API listens on (all pods share one template). */
  readonly httpPort: number;
  /** The port every pod's Raft transport listens on. */
  readonly raftPort: number;
}

// A StatefulSet names its pods <name>-<ordinal>, and the pod name is also the pod's DNS label in the
// headless Service's domain, so the whole name is one RFC 1123 label. Ordinals never have leading zeros.
const POD_NAME = /^([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)-(0|[1-9][0-9]*)$/;
const DNS_LABEL_LENGTH_MAX = 63;
const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/** The longest domain: a pod's label and a dot must still fit in a 253-character name. */
export const DOMAIN_LENGTH_MAX = 253 - DNS_LABEL_LENGTH_MAX - 1;

/** The initial replica count: at least one pod, at most as many as a peer list may hold. */
export const statefulSetReplicasCodec: Codec<number> = integerCodec(1, PEERS_MAX, "pods");

/**
 * A DNS domain, lower-cased; a trailing dot (an absolute name) is refused because the names
 * derived from it are compared as written. Its last label may not be all digits, which would make
 * `10.0.0.1` a domain.
 */
export const peerDomainCodec: Codec<string> = {
  placeholder: "domain",
  parse(text) {
    const domain = text.toLowerCase();
    const labels = domain.split(".");
    const ok =
      domain.length <= DOMAIN_LENGTH_MAX &&
      labels.every((label) => DNS_LABEL.test(label)) &&
      !/^[0-9]+$/.test(labels[labels.length - 1] ?? "");
    return ok ? domain : new Invalid("malformed_domain", `expected ${DOMAIN_FORM}, got ${quote(text)}`);
  },
  format: (value) => value,
};

/** The StatefulSet and ordinal of a pod name, or why it is no StatefulSet pod's name. */
export function parsePodName(id: NodeId): StatefulSetPod | Invalid {
  const match = POD_NAME.exec(id);
  if (match === null || id.length > DNS_LABEL_LENGTH_MAX) {
    return new Invalid("malformed_pod_name", `expected ${POD_NAME_FORM}, got ${quote(id)}`);
  }
  return { statefulSet: match[1]!, ordinal: Number(match[2]) };
}

/**
 * Derives the peers and the advertised address of a StatefulSet pod. Refused: a name that is not
 * `<statefulset>-<ordinal>`, and an ordinal whose peer list would pass PEERS_MAX.
 */
export function deriveStatefulSetMembership(input: StatefulSetInput): StatefulSetMembership | Invalid {
  const pod = parsePodName(input.id);
  if (pod instanceof Invalid) return pod;
  const count = Math.max(input.replicas, pod.ordinal + 1);
  if (count > PEERS_MAX) {
    return new Invalid(
      "out_of_range",
      `expected an ordinal below ${PEERS_MAX} (a peer list holds at most ${PEERS_MAX} members), got ${pod.ordinal} in ${quote(input.id)}`,
    );
  }
  const peers: Peer[] = [];
  for (let ordinal = 0; ordinal < count; ordinal++) {
    const id = `${pod.statefulSet}-${ordinal}`;
    const raftAddress = memberAddress(id, input.domain, input.raftPort);
    if (raftAddress instanceof Invalid) return raftAddress;
    peers.push({ id, raftAddress });
  }
  peers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const advertiseHttpAddress = memberAddress(input.id, input.domain, input.httpPort);
  if (advertiseHttpAddress instanceof Invalid) return advertiseHttpAddress;
  return { pod, peers, advertiseHttpAddress, beyondInitial: pod.ordinal >= input.replicas };
}

/** `<pod>.<domain>:<port>` as an address. */
function memberAddress(pod: string, domain: string, port: number): Address | Invalid {
  const address = parseAddress(`${pod}.${domain}:${port}`);
  // The codecs bound the pod name and the domain so that this always parses; say so if it does not.
  if (address instanceof Invalid) {
    return new Invalid("malformed_domain", `${quote(`${pod}.${domain}`)} is no DNS name: ${address.reason}`);
  }
  return address;
}
