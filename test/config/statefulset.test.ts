// Proves that a StatefulSet pod derives its peers, its advertised address and whether it joins from its name, the initial replica count and the headless Service's domain alone (the same for every pod, as one pod template gives it), that names without an ordinal, bad counts and bad domains are refused with stable codes, that --peers, --advertise-http and --join given as well must agree with the derivation, and that such a config round-trips through toInvocation.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  formatAddress,
  formatPeers,
  parseNodeConfig,
  parsePeers,
  toInvocation,
  type NodeConfig,
} from "../../src/config/index.js";
import { Invalid } from "../../src/config/errors.js";
import { PEERS_MAX } from "../../src/config/peers.js";
import { parsePodName, peerDomainCodec } from "../../src/config/statefulset.js";

const DOMAIN = "juno-phase3.default.svc.cluster.local";

/** What the seed's StatefulSet gives every pod: the pod's name and the same two variables. */
function podEnvironment(pod: string, replicas = 5, domain = DOMAIN): Record<string, string> {
  return { RAFT_NODE_ID: pod, JUNO_STATEFULSET_REPLICAS: String(replicas), JUNO_PEER_DOMAIN: domain };
}

function parse(argv: readonly string[], env: Record<string, string>): NodeConfig {
  const config = parseNodeConfig(argv, env);
  if (config instanceof ConfigError) throw new Error(`${config.code}: ${config.message}`);
  return config;
}

function refusal(argv: readonly string[], env: Record<string, string>): ConfigError {
  const config = parseNodeConfig(argv, env);
  if (!(config instanceof ConfigError)) throw new Error(`accepted: ${JSON.stringify(config)}`);
  return config;
}

/** The peer list as `--peers` would write it. */
const peersText = (config: NodeConfig): string => formatPeers(config.peers);

describe("a pod of the seed's StatefulSet juno-phase3 (5 replicas)", () => {
  it("derives every founder at <pod>.<domain>:9090 and advertises <pod>.<domain>:8080", () => {
    const config = parse([], podEnvironment("juno-phase3-2"));
    expect(config.id).toBe("juno-phase3-2");
    expect(peersText(config)).toBe(
      [0, 1, 2, 3, 4].map((i) => `juno-phase3-${i}=juno-phase3-${i}.${DOMAIN}:9090`).join(","),
    );
    expect(formatAddress(config.advertiseHttpAddress)).toBe(`juno-phase3-2.${DOMAIN}:8080`);
    expect(config.join).toBe(false);
    expect(config).toMatchObject({ statefulsetReplicas: 5, peerDomain: DOMAIN });
  });

  it("every founder derives the same list, so they all write the same founding membership", () => {
    const lists = [0, 1, 2, 3, 4].map((i) => peersText(parse([], podEnvironment(`juno-phase3-${i}`))));
    expect(new Set(lists).size).toBe(1);
  });

  it("uses the ports the pods listen on, which one template gives them all", () => {
    const config = parse(["--http", "0.0.0.0:8000", "--raft", "[::]:7000"], podEnvironment("juno-phase3-0"));
    expect(config.peers.every((peer) => peer.raftAddress.port === 7000)).toBe(true);
    expect(formatAddress(config.advertiseHttpAddress)).toBe(`juno-phase3-0.${DOMAIN}:8000`);
  });

  it("takes flags as well as variables", () => {
    const config = parse(
      ["--id", "juno-phase3-1", "--statefulset-replicas", "3", "--peer-domain", "juno.prod.svc"],
      {},
    );
    expect(config.peers.map((peer) => peer.id)).toEqual(["juno-phase3-0", "juno-phase3-1", "juno-phase3-2"]);
  });

  it("lower-cases the domain, as DNS compares names", () => {
    expect(parse([], podEnvironment("juno-phase3-0", 5, "Juno.Default.SVC")).peerDomain).toBe(
      "juno.default.svc",
    );
  });

  it("splits the ordinal off the last '-', so a StatefulSet's own name may end in digits", () => {
    expect(parsePodName("juno-2-3")).toEqual({ statefulSet: "juno-2", ordinal: 3 });
    expect(parsePodName("a-0")).toEqual({ statefulSet: "a", ordinal: 0 });
    const config = parse([], podEnvironment("juno-2-1", 2));
    expect(config.peers.map((peer) => peer.id)).toEqual(["juno-2-0", "juno-2-1"]);
  });

  it("sorts the peers by id as --peers does, so 10 comes before 2", () => {
    const config = parse([], podEnvironment("juno-phase3-0", 12));
    expect(config.peers.map((peer) => peer.id).slice(0, 4)).toEqual([
      "juno-phase3-0",
      "juno-phase3-1",
      "juno-phase3-10",
      "juno-phase3-11",
    ]);
    expect(parsePeers(peersText(config))).toEqual(config.peers);
  });
});

describe("scaling beyond the initial count", () => {
  it("a pod with an ordinal at or beyond the count joins, knowing every pod up to itself", () => {
    const config = parse([], podEnvironment("juno-phase3-6"));
    expect(config.join).toBe(true);
    expect(config.peers.map((peer) => peer.id)).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `juno-phase3-${i}`));
    expect(formatAddress(config.advertiseHttpAddress)).toBe(`juno-phase3-6.${DOMAIN}:8080`);
  });

  it("the first pod beyond the count joins too", () => {
    expect(parse([], podEnvironment("juno-phase3-5")).join).toBe(true);
    expect(parse([], podEnvironment("juno-phase3-4")).join).toBe(false);
  });

  it("refuses --join=false for such a pod, which could only found a second cluster", () => {
    const error = refusal(["--join=false"], podEnvironment("juno-phase3-5"));
    expect(error.code).toBe("conflicting_settings");
    expect(error.source).toBe("JUNO_JOIN");
    expect(error.message).toContain("ordinal 5");
    expect(error.message).toContain("ordinals 0 to 4");
    expect(refusal([], { ...podEnvironment("juno-phase3-7"), JUNO_JOIN: "0" }).code).toBe(
      "conflicting_settings",
    );
  });

  it("lets a founder join instead (etcd's initial-cluster-state=existing), with the founders as peers", () => {
    const config = parse([], { ...podEnvironment("juno-phase3-1"), JUNO_JOIN: "true" });
    expect(config.join).toBe(true);
    expect(config.peers).toHaveLength(5);
  });

  it("refuses an ordinal whose peer list would pass the bound on peers", () => {
    expect(parse([], podEnvironment(`juno-${PEERS_MAX - 1}`, 3)).peers).toHaveLength(PEERS_MAX);
    const error = refusal([], podEnvironment(`juno-${PEERS_MAX}`, 3));
    expect(error.code).toBe("out_of_range");
    expect(error.source).toBe("RAFT_NODE_ID");
  });
});

describe("refusals", () => {
  it("a node id that is no StatefulSet pod's name", () => {
    for (const pod of [
      "juno",
      "juno-",
      "-1",
      "juno-01",
      "Juno-0",
      "juno_phase3-0",
      "juno.phase3-0",
      "juno-1a",
    ]) {
      const error = refusal([], podEnvironment(pod));
      expect(error.code, pod).toBe(pod === "-1" ? "malformed_id" : "malformed_pod_name");
      if (error.code === "malformed_pod_name") expect(error.message).toContain("<statefulset>-<ordinal>");
    }
    expect(parsePodName(`${"a".repeat(61)}-0`)).not.toBeInstanceOf(Invalid);
    expect(parsePodName(`${"a".repeat(61)}-10`)).toBeInstanceOf(Invalid);
  });

  it("a replica count that is not 1 to the bound on peers", () => {
    expect(refusal([], podEnvironment("juno-0", 0)).code).toBe("out_of_range");
    expect(refusal([], podEnvironment("juno-0", PEERS_MAX + 1)).code).toBe("out_of_range");
    expect(refusal([], { ...podEnvironment("juno-0"), JUNO_STATEFULSET_REPLICAS: "five" }).code).toBe(
      "not_a_number",
    );
  });

  it("a domain that is not DNS labels", () => {
    for (const domain of [
      "juno_x.svc",
      "juno..svc",
      "juno.svc.",
      ".svc",
      "10.0.0.1",
      "a-.svc",
      "x".repeat(64),
    ]) {
      const error = refusal([], podEnvironment("juno-0", 3, domain));
      expect(error.code, domain).toBe("malformed_domain");
      expect(error.source).toBe("JUNO_PEER_DOMAIN");
    }
    // 189 characters: a 63-character pod name and a dot in front still make a 253-character name.
    expect(peerDomainCodec.parse(`${"a.".repeat(93)}abc`)).toBe(`${"a.".repeat(93)}abc`);
    expect(peerDomainCodec.parse(`${"a.".repeat(94)}ab`)).toBeInstanceOf(Invalid);
    const longest = parse([], podEnvironment(`${"a".repeat(61)}-0`, 1, `${"a.".repeat(93)}abc`));
    expect(longest.advertiseHttpAddress.host).toHaveLength(253);
  });

  it("either option without the other, and the count without the pod's name", () => {
    const withoutDomain = refusal(["--id", "juno-0", "--statefulset-replicas", "3"], {});
    expect([withoutDomain.code, withoutDomain.source]).toEqual(["missing_required", "JUNO_PEER_DOMAIN"]);
    const withoutCount = refusal(["--id", "juno-0", "--peer-domain", DOMAIN], {});
    expect([withoutCount.code, withoutCount.source]).toEqual([
      "missing_required",
      "JUNO_STATEFULSET_REPLICAS",
    ]);
    const withoutId = refusal([], { JUNO_STATEFULSET_REPLICAS: "3", JUNO_PEER_DOMAIN: DOMAIN });
    expect([withoutId.code, withoutId.source]).toEqual(["missing_required", "RAFT_NODE_ID"]);
    expect(withoutId.message).toContain("metadata.name");
  });

  it("listening on loopback only, where the other pods cannot reach the node", () => {
    expect(refusal(["--http", "127.0.0.1:8080"], podEnvironment("juno-0")).source).toBe("JUNO_HTTP_ADDR");
    expect(refusal(["--raft", "127.0.0.1:9090"], podEnvironment("juno-0")).source).toBe("JUNO_RAFT_ADDR");
  });

  it("consensus switched off with more than one replica, as with --peers", () => {
    expect(refusal(["--consensus=false"], podEnvironment("juno-0")).code).toBe("conflicting_settings");
    expect(parse(["--consensus=false"], podEnvironment("juno-0", 1)).peers).toHaveLength(1);
  });
});

describe("--peers and --advertise-http given as well", () => {
  const env = podEnvironment("juno-phase3-0", 3);
  const derived = parse([], env);

  it("are accepted when they say what the StatefulSet derives", () => {
    const argv = [
      "--peers",
      // In another order and with a space: the list is compared once parsed.
      [...peersText(derived).split(",")].reverse().join(", "),
      "--advertise-http",
      formatAddress(derived.advertiseHttpAddress),
    ];
    expect(parse(argv, env)).toEqual(derived);
  });

  it("are refused, naming the derived value, when they say anything else", () => {
    const peers = refusal(["--peers", "juno-phase3-0=10.0.0.1:9090"], env);
    expect([peers.code, peers.source]).toEqual(["conflicting_settings", "JUNO_PEERS"]);
    expect(peers.message).toContain("juno-phase3-0=juno-phase3-0.");
    const advertised = refusal(["--advertise-http", "10.0.0.1:8080"], env);
    expect([advertised.code, advertised.source]).toEqual(["conflicting_settings", "JUNO_ADVERTISE_HTTP"]);
    expect(advertised.message).toContain(`juno-phase3-0.${DOMAIN}:8080`);
  });
});

describe("round trip", () => {
  it("a StatefulSet pod's config written out by toInvocation parses back equal", () => {
    const input = fc.record({
      replicas: fc.integer({ min: 1, max: PEERS_MAX }),
      ordinal: fc.integer({ min: 0, max: PEERS_MAX - 1 }),
      statefulSet: fc.stringMatching(/^[a-z]([-a-z0-9]{0,20}[a-z0-9])?$/),
      domain: fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?\.[a-z][a-z0-9]{0,5}\.svc$/),
      httpPort: fc.integer({ min: 1, max: 65_535 }),
      join: fc.constantFrom(undefined, "true", "false"),
    });
    let accepted = 0;
    fc.assert(
      fc.property(input, ({ replicas, ordinal, statefulSet, domain, httpPort, join }) => {
        const env = {
          ...podEnvironment(`${statefulSet}-${ordinal}`, replicas, domain),
          JUNO_HTTP_ADDR: `0.0.0.0:${httpPort === 9090 ? 8080 : httpPort}`,
          ...(join === undefined ? {} : { JUNO_JOIN: join }),
        };
        const parsed = parseNodeConfig([], env);
        if (parsed instanceof ConfigError) {
          // The only refusal these inputs can meet: --join=false on a pod beyond the count.
          expect(parsed.source).toBe("JUNO_JOIN");
          return;
        }
        accepted++;
        expect(parsed.join).toBe(join === "true" || ordinal >= replicas);
        const invocation = toInvocation(parsed);
        expect(parseNodeConfig(invocation.argv, invocation.env)).toEqual(parsed);
      }),
      { seed: 20_251_101, numRuns: 300 },
    );
    expect(accepted).toBeGreaterThan(150);
  });
});
