// Proves the handshake protocol on its own, without sockets: both ends authenticate and learn each
// other's id when they share the secret; a wrong or missing secret, a wrong node, a replayed or
// reflected proof, a foreign version or garbage all fail with a stable code, and no secret at all
// still exchanges and checks ids (the documented insecure mode).

import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  ClientHandshake,
  clusterKey,
  HandshakeError,
  ServerHandshake,
  type HandshakeErrorCode,
} from "../../src/transport/index.js";
import { SECRET } from "./helpers.js";

const key = clusterKey(SECRET);
const nonce = (): Uint8Array => randomBytes(32);

/** Runs a whole handshake; returns what each side authenticated, or the first error's code. */
function run(
  client: ClientHandshake,
  server: ServerHandshake,
): { clientSaw: string | null; serverSaw: string | null } | HandshakeErrorCode {
  try {
    const welcome = server.receive(client.start());
    const proof = client.receive(welcome.reply!);
    const accept = server.receive(proof.reply!);
    const done = client.receive(accept.reply!);
    return { clientSaw: done.peerId, serverSaw: accept.peerId };
  } catch (error) {
    if (error instanceof HandshakeError) return error.code;
    throw error;
  }
}

function codeOf(action: () => unknown): HandshakeErrorCode | "no error" {
  try {
    action();
  } catch (error) {
    if (error instanceof HandshakeError) return error.code;
    throw error;
  }
  return "no error";
}

describe("handshake", () => {
  it("authenticates both ends that share the secret", () => {
    const result = run(new ClientHandshake("a", "b", key, nonce()), new ServerHandshake("b", key, nonce()));
    expect(result).toEqual({ clientSaw: "b", serverSaw: "a" });
  });

  it("exchanges ids without a secret on both ends (insecure mode)", () => {
    const none = clusterKey(undefined);
    expect(none.length).toBe(0);
    const result = run(new ClientHandshake("a", "b", none, nonce()), new ServerHandshake("b", none, nonce()));
    expect(result).toEqual({ clientSaw: "b", serverSaw: "a" });
  });

  it("fails when the secrets differ, or only one end has one", () => {
    const other = clusterKey("another-secret-0123456789");
    const none = clusterKey(null);
    // The client checks the server's proof first, so it is the client that notices.
    expect(run(new ClientHandshake("a", "b", key, nonce()), new ServerHandshake("b", other, nonce()))).toBe(
      "bad_proof",
    );
    expect(run(new ClientHandshake("a", "b", none, nonce()), new ServerHandshake("b", key, nonce()))).toBe(
      "bad_proof",
    );
  });

  it("the server refuses a client whose proof is wrong, with a REJECT the client understands", () => {
    const client = new ClientHandshake("a", "b", key, nonce());
    const server = new ServerHandshake("b", key, nonce());
    server.receive(client.start());
    const forged = new Uint8Array(33);
    forged[0] = 3;
    let rejection: HandshakeError | null = null;
    try {
      server.receive(forged);
    } catch (error) {
      rejection = error as HandshakeError;
    }
    expect(rejection?.code).toBe("bad_proof");
    expect(rejection?.reply).not.toBeNull();
    const seen = (() => {
      try {
        client.receive(rejection!.reply!);
      } catch (error) {
        return error as HandshakeError;
      }
      return null;
    })();
    expect(seen?.code).toBe("rejected");
    expect(seen?.rejectReason).toBe("bad_proof");
  });

  it("a proof recorded on one connection is useless on the next (fresh server nonce)", () => {
    const clientNonce = nonce();
    const first = new ClientHandshake("a", "b", key, clientNonce);
    const firstServer = new ServerHandshake("b", key, nonce());
    const recordedProof = first.receive(firstServer.receive(first.start()).reply!).reply!;

    const attacker = new ClientHandshake("a", "b", clusterKey("attacker-does-not-know-it"), clientNonce);
    const secondServer = new ServerHandshake("b", key, nonce());
    secondServer.receive(attacker.start());
    expect(codeOf(() => secondServer.receive(recordedProof))).toBe("bad_proof");
  });

  it("a server's proof reflected back as a client proof fails (labels differ)", () => {
    const clientNonce = nonce();
    const serverNonce = nonce();
    // An attacker opens a connection to b and receives b's WELCOME for the transcript (a, cn, b, sn).
    const attacker = new ClientHandshake("a", "b", clusterKey("attacker-does-not-know-it"), clientNonce);
    const server = new ServerHandshake("b", key, serverNonce);
    const welcome = server.receive(attacker.start()).reply!;
    const serverProof = welcome.subarray(welcome.length - 32);
    const reflected = new Uint8Array([3, ...serverProof]);
    expect(codeOf(() => server.receive(reflected))).toBe("bad_proof");
  });

  it("refuses to talk to the wrong node, or to a client claiming the server's own id", () => {
    expect(run(new ClientHandshake("a", "c", key, nonce()), new ServerHandshake("b", key, nonce()))).toBe(
      "wrong_node",
    );
    expect(run(new ClientHandshake("b", "b", key, nonce()), new ServerHandshake("b", key, nonce()))).toBe(
      "same_node",
    );
  });

  it("refuses another protocol version and garbage, with a reply for the client", () => {
    const client = new ClientHandshake("a", "b", key, nonce());
    const hello = client.start().slice();
    hello[1] = 99;
    expect(codeOf(() => new ServerHandshake("b", key, nonce()).receive(hello))).toBe("version");
    expect(codeOf(() => new ServerHandshake("b", key, nonce()).receive(new Uint8Array([1, 1, 0])))).toBe(
      "protocol",
    );
    expect(codeOf(() => new ServerHandshake("b", key, nonce()).receive(new Uint8Array([3])))).toBe(
      "protocol",
    );
    expect(codeOf(() => new ServerHandshake("b", key, nonce()).receive(new Uint8Array()))).toBe("protocol");
    expect(codeOf(() => client.receive(new Uint8Array([4])))).toBe("protocol");
  });

  it("refuses secrets shorter than 16 bytes", () => {
    expect(() => clusterKey("short")).toThrow(RangeError);
    expect(() => clusterKey("")).toThrow(RangeError);
    expect(clusterKey(new Uint8Array(16)).length).toBe(16);
  });
});
