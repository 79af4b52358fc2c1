/** `juno status`'s option table: which node to ask, how to print, and the token to ask with. */

import { booleanCodec, listenAddressCodec, secretCodec } from "./codecs.js";
import { defineCommand, type CommandValues } from "./command.js";

/** `juno status`: the cluster as one node sees it. */
export const STATUS_COMMAND = defineCommand({
  name: "status",
  summary:
    "Shows who leads, the term, the commit and applied indexes, and each member's replication, as " +
    "one node sees it. Any node can be asked.",
  options: {
    http: {
      flag: "--http",
      env: null,
      default: "127.0.0.1:8080",
      // Accepting the wildcard lets a user paste a node's --http; it is dialled as loopback.
      meaning: "HTTP address of the node to ask; 0.0.0.0 and [::] mean this machine.",
      codec: listenAddressCodec,
    },
    json: {
      flag: "--json",
      env: null,
      default: "false",
      meaning: "Print the node's answer as JSON instead of a table.",
      codec: booleanCodec,
    },
    apiToken: {
      flag: null,
      env: "JUNO_API_TOKEN",
      default: { derived: "none" },
      meaning: "Bearer token sent with the request: the cluster's JUNO_API_TOKEN. Never printed.",
      codec: secretCodec(1),
    },
  },
});

/** What `juno status` runs with, as parsed from its table. */
export type StatusSettings = CommandValues<typeof STATUS_COMMAND.options>;
