// Proves a cluster running on TLS end to end, with `juno start`'s own wiring (runNode) for three nodes in this process on real sockets: the peers form a cluster over mutual TLS and replicate a write made through a follower; a leader-only request to a follower is forwarded to the leader over HTTPS; the CLI (`juno status --ca`) and the SDK with the CA work, and without it fail saying the certificate was not trusted; the peer transport's refusal counters are in /metrics; and SIGHUP reloads a renewed certificate without a restart.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JunoApiError, JunoClient } from "../../src/client/index.js";
import { freePort } from "../../src/cli/dev.js";
import { runNode, type RunningNode } from "../../src/cli/start.js";
import { runStatus } from "../../src/cli/status.js";
import { FROM_DISK } from "../../src/cli/config-file.js";
import { ConfigError, parseNodeConfig } from "../../src/config/index.js";
import { parseStatusCommand } from "../../src/config/status-command.js";
import { issueCertificate, LOOPBACK_NAMES } from "../../src/tls/certificates.js";
import { certificates, writeFiles } from "./fixtures.js";
import { until } from "../support/local-node.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";

const TOKEN = "tls-cluster-token";
const certs = certificates();
const files = writeFiles({
  "ca.crt": certs.ca.certPem,
  "member.crt": certs.member.certPem,
  "member.key": certs.member.keyPem,
});
const dataDir = mkdtempSync(join(tmpdir(), "juno-tls-cluster-"));
const nodes = new Map<string, RunningNode>();
const urls: string[] = [];

/** Collects what a command writes. */
function buffer(): { write(text: string): boolean; text: string } {
  return {
    text: "",
    write(text: string) {
      this.text += text;
      return true;
    },
  };
}

beforeAll(async () => {
  const ids = ["n1", "n2", "n3"];
  const ports = new Map<string, { http: number; raft: number }>();
  for (const id of ids) ports.set(id, { http: await freePort(), raft: await freePort() });
  const peers = ids.map((id) => `${id}=127.0.0.1:${ports.get(id)!.raft}`).join(",");
  for (const id of ids) {
    const { http, raft } = ports.get(id)!;
    const config = parseNodeConfig(
      [
        `--id=${id}`,
        `--http=127.0.0.1:${http}`,
        `--raft=127.0.0.1:${raft}`,
        `--peers=${peers}`,
        `--data-dir=${join(dataDir, id)}`,
        "--log-level=silent",
        `--tls-cert=${files.path("member.crt")}`,
        `--tls-key=${files.path("member.key")}`,
        `--peer-tls-ca=${files.path("ca.crt")}`,
      ],
      {
        JUNO_API_TOKEN: TOKEN,
        JUNO_CLUSTER_SECRET: "tls-cluster-secret-0123456789",
        RAFT_HEARTBEAT_INTERVAL: "50",
        RAFT_ELECTION_TIMEOUT: "500",
      },
    );
    if (config instanceof ConfigError) throw config;
    nodes.set(id, await runNode(config));
    urls.push(`https://127.0.0.1:${http}`);
  }
}, 30_000);

afterAll(async () => {
  await Promise.all([...nodes.values()].map((node) => node.stop()));
  files.remove();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A client of one node, trusting the test CA. */
function clientOf(url: string): JunoClient {
  return new JunoClient({
    urls: [url],
    token: TOKEN,
    tls: { ca: certs.ca.certPem },
    retry: { maxAttempts: 1 },
  });
}

/** The leader's id, once every node agrees on one. */
async function leader(): Promise<string> {
  let found: string | null = null;
  await until(async () => {
    const views = await Promise.all(
      urls.map((url) =>
        clientOf(url)
          .status()
          .catch(() => null),
      ),
    );
    const ids = new Set(views.map((view) => view?.leader_id ?? null));
    found = ids.size === 1 ? ([...ids][0] ?? null) : null;
    return found !== null;
  }, 15_000);
  return found!;
}

describe("a cluster on TLS", () => {
  it("forms over mutual TLS and replicates a write made through a follower to every member", async () => {
    const leaderId = await leader();
    const follower = urls[[...nodes.keys()].findIndex((id) => id !== leaderId)]!;
    const written = await clientOf(follower).request({
      method: "POST",
      path: "/api/v3/consensus/propose",
      body: { entry_type: "tls", data: { over: "mutual tls" } },
    });
    const { index } = written.body as { index: number };
    for (const url of urls) {
      await until(async () => {
        const answer = await clientOf(url).request({
          method: "GET",
          path: "/api/v3/consensus/log",
          query: { from: index, consistency: "stale" },
        });
        const entries = (answer.body as { entries: { entry_type: string }[] }).entries;
        return entries[0]?.entry_type === "tls";
      });
    }
    for (const node of nodes.values()) {
      const metrics = await (await fetchMetrics(node)).text();
      expect(metrics).toMatch(/juno_peer_certificate_refusals_total\{direction="inbound"[^}]*\} 0/);
      expect(metrics).toContain("juno_peer_handshake_failures_total");
    }
  });

  it("forwards a leader-only request from a follower to the leader over HTTPS", async () => {
    const leaderId = await leader();
    const ids = [...nodes.keys()];
    const followerIndex = ids.findIndex((id) => id !== leaderId);
    const answer = await clientOf(urls[followerIndex]!).request({
      method: "POST",
      path: "/api/v3/cluster/leader",
      body: { id: ids[followerIndex] },
    });
    expect(answer.body).toMatchObject({ transferring_to: ids[followerIndex] });
    await until(async () => (await leader()) === ids[followerIndex], 15_000);
  });

  it("answers juno status given the CA, and without it fails saying the certificate is not trusted", async () => {
    const env = { JUNO_NODES: urls.join(","), JUNO_API_TOKEN: TOKEN };
    const withCa = parseStatusCommand(["--ca", files.path("ca.crt"), "--cluster-only"], env, FROM_DISK);
    if (withCa instanceof Error) throw withCa;
    const io = { stdout: buffer(), stderr: buffer() };
    expect(await runStatus(withCa, io, { retry: { maxAttempts: 1 } })).toBe(0);
    expect(io.stdout.text).toMatch(/leader n\d/);

    const withoutCa = parseStatusCommand(["--cluster-only"], env, FROM_DISK);
    if (withoutCa instanceof Error) throw withoutCa;
    const refused = { stdout: buffer(), stderr: buffer() };
    expect(await runStatus(withoutCa, refused, { retry: { maxAttempts: 1 } })).toBe(1);
    expect(refused.stderr.text).toMatch(/unreachable.*certificate was not trusted.*--ca/);
  });

  it("reloads a renewed certificate on SIGHUP: new connections get it, and the cluster goes on", async () => {
    const renewed = issueCertificate(certs.ca, {
      commonName: "renewed member",
      ...LOOPBACK_NAMES,
      keyPem: certs.member.keyPem,
    });
    writeFileSync(files.path("member.crt"), renewed.certPem);
    process.emit("SIGHUP", "SIGHUP");
    const node = [...nodes.values()][0]!;
    const port = Number(node.httpAddress.split(":").pop());
    const subject = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: "127.0.0.1", port, ca: certs.ca.certPem });
      socket.once("secureConnect", () => {
        resolve(String(socket.getPeerCertificate().subject.CN));
        socket.end();
      });
      socket.once("error", reject);
    });
    expect(subject).toBe("renewed member");
    expect((await clientOf(urls[0]!).status()).node_id).toBe("n1");
  });

  it("the SDK without the CA refuses the nodes' certificates as unreachable, naming the CA option", async () => {
    const client = new JunoClient({ urls, token: TOKEN, retry: { maxAttempts: 1 } });
    const error = await client.status().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(JunoApiError);
    expect((error as JunoApiError).code).toBe("unreachable");
    expect((error as JunoApiError).message).toMatch(/certificate was not trusted.*tls\.ca/);
  });
});

/** GET /metrics of a node (public, so no token), trusting the test CA. */
async function fetchMetrics(node: RunningNode): Promise<Response> {
  const { Agent, fetch } = await import("undici");
  const dispatcher = new Agent({ connect: { ca: certs.ca.certPem } });
  try {
    return await fetch(`https://${node.httpAddress}/metrics`, { dispatcher });
  } finally {
    void dispatcher.close();
  }
}
