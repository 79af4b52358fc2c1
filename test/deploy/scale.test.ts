// Proves that deploy/k8s/scale.sh is valid POSIX sh, refuses bad arguments before it touches the cluster, and resizes juno one member at a time: down by removing the highest member through the API before the StatefulSet shrinks below it, never when the members that stay lack a Ready majority; up by scaling first and adding each new pod (with the addresses the pod derives itself) only after the one before has become a voter; and never bringing back a founding pod without its volume. It runs against a fake kubectl (a script that forwards to this test) and a fake membership API, and runs its in-pod API client for real.

import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ROOT } from "./package-build.js";

const SCRIPT = join(ROOT, "deploy", "k8s", "scale.sh");
const STS = "juno-phase3";
const DOMAIN = "juno-phase3-peers.prod.svc.cluster.local";
const TOKEN = "scale-test-token";

/** The fake cluster: the StatefulSet, its pods and volumes, and juno's membership. */
interface Cluster {
  replicas: number;
  initial: number;
  pods: Map<string, { ready: boolean }>;
  volumes: Set<string>;
  /** id -> voter */
  members: Map<string, boolean>;
  /** Pods that never become Ready (down members). */
  broken: Set<string>;
  /** What changed, in order: "scale 4", "remove juno-phase3-4", "add juno-phase3-5 <raft> <http>". */
  actions: string[];
  /** Namespaces kubectl was given. */
  namespaces: Set<string>;
}

let cluster: Cluster;

function resetCluster(replicas = 5, initial = 5): void {
  const ids = Array.from({ length: replicas }, (_, i) => `${STS}-${i}`);
  cluster = {
    replicas,
    initial,
    pods: new Map(ids.map((id) => [id, { ready: true }])),
    volumes: new Set(ids.map((id) => `data-${id}`)),
    members: new Map(ids.map((id) => [id, true])),
    broken: new Set(),
    actions: [],
    namespaces: new Set(),
  };
}

/** Pods follow the replica count; a new pod is Running, and Ready once it is a voter. */
function reconcilePods(): void {
  for (const id of cluster.pods.keys())
    if (Number(id.split("-").pop()) >= cluster.replicas) cluster.pods.delete(id);
  for (let i = 0; i < cluster.replicas; i++) {
    const id = `${STS}-${i}`;
    if (!cluster.pods.has(id)) cluster.pods.set(id, { ready: false });
    cluster.volumes.add(`data-${id}`);
    const pod = cluster.pods.get(id)!;
    pod.ready = cluster.members.get(id) === true && !cluster.broken.has(id);
  }
}

/** kubectl, as far as scale.sh uses it. Answers [exit code, stdout]. */
function kubectl(args: string[]): [number, string] {
  const namespace = args.indexOf("--namespace");
  if (namespace >= 0) {
    cluster.namespaces.add(args[namespace + 1]!);
    args = [...args.slice(0, namespace), ...args.slice(namespace + 2)];
  }
  const [verb, kind, name] = args;
  const output = args.find((arg) => arg.startsWith("jsonpath=")) ?? "";
  if (verb === "get" && kind === "statefulset" && name === STS) {
    if (output.includes("JUNO_STATEFULSET_REPLICAS")) return [0, String(cluster.initial)];
    if (output.includes("volumeClaimTemplates")) return [0, "data"];
    if (output.includes("spec.replicas")) return [0, String(cluster.replicas)];
  }
  if (verb === "get" && kind === "pod") {
    const pod = cluster.pods.get(name!);
    if (pod === undefined) return [1, ""];
    if (output.includes("phase")) return [0, "Running"];
    if (output.includes("Ready")) return [0, pod.ready ? "True" : "False"];
  }
  if (verb === "get" && kind === "pvc") {
    return [0, cluster.volumes.has(name!) ? `persistentvolumeclaim/${name}` : ""];
  }
  if (verb === "scale" && kind === "statefulset") {
    cluster.replicas = Number(args.find((arg) => arg.startsWith("--replicas="))!.split("=")[1]);
    cluster.actions.push(`scale ${cluster.replicas}`);
    reconcilePods();
    return [0, `statefulset.apps/${STS} scaled`];
  }
  if (verb === "wait") {
    const pod = args.find((arg) => arg.startsWith("pod/"))!.slice(4);
    if (args.includes("--for=delete")) return [cluster.pods.has(pod) ? 1 : 0, ""];
    return [cluster.pods.get(pod)?.ready === true ? 0 : 1, ""];
  }
  return [1, `fake kubectl does not know: ${args.join(" ")}`];
}

/** juno's membership API, as the in-pod client calls it. */
function junoApi(request: IncomingMessage, body: string, response: ServerResponse): void {
  const send = (status: number, value: unknown): void => {
    response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
  };
  if (request.url === "/readyz") return send(200, { ready: true });
  if (request.headers.authorization !== `Bearer ${TOKEN}`)
    return send(401, { error: { code: "unauthorized" } });
  if (request.method === "GET" && request.url === "/api/v3/cluster/members") {
    const listed = [...cluster.members].map(([id, voter]) => ({ id, voter }));
    // A learner whose pod runs has caught up by the next look: the leader promotes it.
    for (const [id, voter] of cluster.members)
      if (!voter && cluster.pods.has(id) && !cluster.broken.has(id)) cluster.members.set(id, true);
    reconcilePods();
    return send(200, { members: listed });
  }
  if (request.method === "POST" && request.url === "/api/v3/cluster/members") {
    const member = JSON.parse(body) as { id: string; raft_addr: string; http_addr: string };
    cluster.members.set(member.id, false);
    cluster.actions.push(`add ${member.id} ${member.raft_addr} ${member.http_addr}`);
    return send(201, { id: member.id, voter: false, index: 7 });
  }
  const removal = /^\/api\/v3\/cluster\/members\/(.+)$/.exec(request.url ?? "");
  if (request.method === "DELETE" && removal !== null) {
    const id = decodeURIComponent(removal[1]!);
    cluster.members.delete(id);
    cluster.actions.push(`remove ${id}`);
    return send(200, { id, removed: true, index: 8 });
  }
  send(404, { error: { code: "not_found" } });
}

let server: Server;
let port = 0;
const bin = mkdtempSync(join(tmpdir(), "juno-scale-"));

/**
 * The fake kubectl, in sh with curl so that each call costs milliseconds: `exec ... -- <command>`
 * runs the command here with the environment juno's container has (and the in-pod client pointed
 * at the fake API); anything else is answered by the test, exit code on the first line.
 */
function writeFakeKubectl(): string {
  const path = join(bin, "kubectl");
  writeFileSync(
    path,
    `#!/bin/sh
case " $* " in
  *" -- "*)
    while [ "$1" != "--" ]; do shift; done
    shift
    if [ "$1" = node ]; then shift; set -- ${JSON.stringify(process.execPath)} "$@"; fi
    exec env -i PATH="$PATH" JUNO_SCALE_API_URL="http://127.0.0.1:$FAKE_PORT" \\
      JUNO_HTTP_ADDR=0.0.0.0:8080 JUNO_RAFT_ADDR=0.0.0.0:9090 \\
      JUNO_API_TOKEN=${TOKEN} JUNO_PEER_DOMAIN=${DOMAIN} "$@"
    ;;
esac
out=$(printf '%s\\n' "$@" | curl -s --data-binary @- "http://127.0.0.1:$FAKE_PORT/kubectl") || exit 99
printf '%s\\n' "$out" | sed 1d
exit "$(printf '%s\\n' "$out" | head -n 1)"
`,
  );
  chmodSync(path, 0o755);
  return path;
}

let kubectlPath = "";

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      if (request.url === "/kubectl") {
        const [code, out] = kubectl(body.split("\n").filter((line) => line !== ""));
        response.writeHead(200).end(`${code}\n${out}`);
      } else junoApi(request, body, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  port = typeof address === "object" && address !== null ? address.port : 0;
  kubectlPath = writeFakeKubectl();
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(bin, { recursive: true, force: true });
});

beforeEach(() => resetCluster());

/** Runs scale.sh; the fake answers asynchronously, so the script runs in a child, not spawnSync. */
function scale(
  args: string[],
  kubectlCommand = kubectlPath,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("sh", [SCRIPT, ...args], {
      env: {
        PATH: process.env.PATH,
        KUBECTL: kubectlCommand,
        FAKE_PORT: String(port),
        JUNO_SCALE_POLL_SECONDS: "0",
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

const ids = () => [...cluster.members.keys()].sort();
const pod = (i: number) => `${STS}-${i}`;
const addition = (i: number) => `add ${pod(i)} ${pod(i)}.${DOMAIN}:9090 ${pod(i)}.${DOMAIN}:8080`;

describe("scale.sh as a script", () => {
  it("is valid POSIX sh", () => {
    expect(spawnSync("sh", ["-n", SCRIPT]).status).toBe(0);
    expect(spawnSync("bash", ["--posix", "-n", SCRIPT]).status).toBe(0);
  });

  it("prints its usage for --help", async () => {
    const help = await scale(["--help"], "/nonexistent/kubectl");
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("usage: scale.sh [options] <replicas>");
  });

  it("refuses bad arguments with code 2 before calling kubectl", async () => {
    const refusals: [string[], string][] = [
      [[], "give the number of replicas"],
      [["seven"], "whole number"],
      [["-1"], "unknown option -1"],
      [["0"], "at least 1"],
      [["65"], "at most 64"],
      [["2"], "--force"],
      [["5", "6"], "unexpected argument 6"],
      [["--bogus", "5"], "unknown option --bogus"],
      [["--namespace"], "needs a value"],
      [["--timeout", "soon", "5"], "--timeout"],
      [["--statefulset", "Juno_X", "5"], "not a StatefulSet name"],
      [["--via", "juno-phase3-4", "3"], "would be removed"],
      [["--via", "other-0", "3"], "must be a pod of juno-phase3"],
    ];
    for (const [args, message] of refusals) {
      // A kubectl that does not exist: calling it would fail with another message and code.
      const result = await scale(args, "/nonexistent/kubectl");
      expect(result.status, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toContain(message);
    }
  });
});

describe("scaling down", () => {
  it("removes the highest members one by one, each before the StatefulSet shrinks below it", async () => {
    const result = await scale(["--namespace", "prod", "3"]);
    expect(result.status, result.stderr).toBe(0);
    expect(cluster.actions).toEqual([`remove ${pod(4)}`, "scale 4", `remove ${pod(3)}`, "scale 3"]);
    expect(ids()).toEqual([pod(0), pod(1), pod(2)]);
    expect([...cluster.namespaces]).toEqual(["prod"]);
  });

  it("refuses a removal that would leave the remaining voters without a Ready majority", async () => {
    cluster.broken = new Set([pod(1), pod(2)]);
    reconcilePods();
    const result = await scale(["4"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("only 2 are Ready");
    expect(cluster.actions).toEqual([]);
  });

  it("goes below 3 only with --force", async () => {
    resetCluster(3, 3);
    const result = await scale(["--force", "2"]);
    expect(result.status, result.stderr).toBe(0);
    expect(ids()).toEqual([pod(0), pod(1)]);
    expect(cluster.replicas).toBe(2);
  });

  it("changes nothing with --dry-run", async () => {
    const result = await scale(["--dry-run", "4"]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(`would remove the member ${pod(4)}`);
    expect(result.stdout).toContain(`would scale ${STS} to 4`);
    expect(cluster.actions).toEqual([]);
  });
});

describe("scaling up", () => {
  it("beyond the initial size: scales, then adds each pod after the previous one became a voter", async () => {
    const result = await scale(["7"]);
    expect(result.status, result.stderr).toBe(0);
    expect(cluster.actions).toEqual(["scale 7", addition(5), addition(6)]);
    expect([...cluster.members.values()].every((voter) => voter)).toBe(true);
    expect(cluster.members.size).toBe(7);
  });

  /** The state a scale-down from 5 to 3 leaves: 3 pods and members, the volumes of 3 and 4 kept. */
  function scaledDownToThree(): void {
    resetCluster(3, 5);
    cluster.volumes.add(`data-${pod(3)}`).add(`data-${pod(4)}`);
  }

  it("back to the initial size after a scale-down, the returning pods keeping their volumes", async () => {
    scaledDownToThree();
    const result = await scale(["5"]);
    expect(result.status, result.stderr).toBe(0);
    expect(cluster.actions).toEqual(["scale 5", addition(3), addition(4)]);
  });

  it("refuses to bring back a founding pod whose volume is gone, unless forced", async () => {
    scaledDownToThree();
    cluster.volumes.delete(`data-${pod(4)}`);
    const refused = await scale(["5"]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("second cluster");
    expect(cluster.actions).toEqual([]);
    const forced = await scale(["--force", "5"]);
    expect(forced.status, forced.stderr).toBe(0);
    expect(cluster.actions).toEqual(["scale 5", addition(3), addition(4)]);
  });

  it("finishes an interrupted run: a pod that is there but no member is added", async () => {
    cluster.members.delete(pod(4));
    reconcilePods();
    const result = await scale(["5"]);
    expect(result.status, result.stderr).toBe(0);
    expect(cluster.actions).toEqual([addition(4)]);
  });
});
