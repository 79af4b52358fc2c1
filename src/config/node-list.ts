/**
 * The nodes a client command talks to: a comma-separated list in which each node is a base URL
 * (`http://10.0.0.1:8080`, `https://juno.example`) or a bare `host:port`, which means http. A
 * bare wildcard (`0.0.0.0:8080`, `[::]:8080`, as a node's own --http says) means this machine,
 * so a node's listen address can be pasted as it is.
 */

import { formatAddress, localDialAddress, parseAddress } from "./address.js";
import { httpUrlCodec, type Codec } from "./codecs.js";
import { Invalid, quote } from "./errors.js";

/** The most nodes one command may be given; the client itself takes more, but a list this long is a mistake. */
export const NODES_MAX = 16;

/** The node list used when no flag, variable or config file names one. */
export const DEFAULT_NODES = "http://127.0.0.1:8080";

/** One node as a base URL, or why it is refused. */
export function parseNode(text: string): string | Invalid {
  if (text.includes("://")) {
    const url = httpUrlCodec.parse(text);
    return url instanceof Invalid ? url : url.replace(/\/+$/, "");
  }
  const address = parseAddress(text);
  if (address instanceof Invalid) {
    return new Invalid(
      "malformed_url",
      `expected a node as http://host:port, https://host:port or host:port, got ${quote(text)}`,
    );
  }
  return `http://${formatAddress(localDialAddress(address))}`;
}

/** A comma-separated list of nodes, as base URLs; duplicates dropped, order kept (the first is tried first). */
export const nodeListCodec: Codec<readonly string[]> = {
  placeholder: "node,...",
  parse(text) {
    const urls: string[] = [];
    for (const item of text.split(",")) {
      const trimmed = item.trim();
      // A trailing comma, as lists pasted from a shell often have, names no node.
      if (trimmed === "") continue;
      const url = parseNode(trimmed);
      if (url instanceof Invalid) return url;
      if (!urls.includes(url)) urls.push(url);
    }
    if (urls.length === 0) return new Invalid("missing_value", "expected at least one node");
    return urls.length <= NODES_MAX
      ? urls
      : new Invalid("out_of_range", `expected at most ${NODES_MAX} nodes, got ${urls.length}`);
  },
  format: (urls) => urls.join(","),
};
