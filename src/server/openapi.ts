/** The OpenAPI 3.1 description of juno's HTTP API, served at /api/v3/openapi.json. */

const error = { $ref: "#/components/schemas/Error" };
const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: error } },
});
const json = (schema: object, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const consistency = {
  name: "consistency",
  in: "query",
  required: false,
  description:
    "linearizable (default: ReadIndex, confirmed with a quorum) or stale (this node's local state).",
  schema: { type: "string", enum: ["linearizable", "stale"] },
};
const common = {
  "400": errorResponse("Invalid input (validation_failed, invalid_json)."),
  "401": errorResponse("Missing or wrong bearer token (unauthorized)."),
  "503": errorResponse("No leader right now, or overloaded; retry after Retry-After seconds."),
};

/** The document. */
export const OPENAPI = {
  openapi: "3.1.0",
  info: {
    title: "juno",
    version: "0.1.0",
    description:
      "A replicated control plane for coordinating agents across teams. Every write is an entry in a Raft log; " +
      "writes may go to any node (followers forward to the leader). Errors always have the shape " +
      '{ "error": { "code", "message" } } with a stable code.',
  },
  components: {
    securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "JUNO_API_TOKEN, when set." } },
    schemas: {
      Error: {
        type: "object",
        required: ["error"],
        properties: {
          error: {
            type: "object",
            required: ["code", "message"],
            properties: {
              code: { type: "string", examples: ["validation_failed", "not_leader", "duplicate_vote"] },
              message: { type: "string" },
              leader_id: { type: "string" },
              first_index: { type: "integer" },
            },
          },
        },
      },
      Approval: {
        type: "object",
        required: ["voters", "quorum"],
        additionalProperties: false,
        properties: {
          voters: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 100, uniqueItems: true },
          quorum: { type: "integer", minimum: 1 },
        },
      },
      Decision: {
        type: "object",
        properties: {
          index: { type: "integer" },
          entry_type: { type: "string" },
          data: {},
          voters: { type: "array", items: { type: "string" } },
          quorum: { type: "integer" },
          votes: { type: "object", additionalProperties: { type: "string", enum: ["approve", "reject"] } },
          status: { type: "string", enum: ["pending", "approved", "rejected"] },
          created_at: { type: "string", format: "date-time" },
          decided_at: { type: ["string", "null"], format: "date-time" },
        },
      },
      LogEntry: {
        type: "object",
        properties: {
          index: { type: "integer" },
          term: { type: "integer" },
          entry_type: {
            type: "string",
            description: "The proposer's type, or consensus.vote, raft.noop, raft.config.",
          },
          data: {},
          approval: { $ref: "#/components/schemas/Approval" },
          timestamp: { type: ["string", "null"], format: "date-time" },
          committed: { type: "boolean" },
        },
      },
      Member: {
        type: "object",
        properties: {
          id: { type: "string" },
          raft_addr: { type: ["string", "null"] },
          http_addr: { type: ["string", "null"] },
          voter: { type: "boolean" },
          match_index: { type: ["integer", "null"], description: "Known on the leader only." },
          lag_entries: { type: ["integer", "null"] },
          last_contact_ms: { type: ["integer", "null"] },
        },
      },
      Status: {
        type: "object",
        properties: {
          node_id: { type: "string" },
          role: { type: "string", enum: ["follower", "pre_candidate", "candidate", "leader"] },
          term: { type: "integer" },
          leader_id: { type: ["string", "null"] },
          commit_index: { type: "integer" },
          applied_index: { type: "integer" },
          members: { type: "array", items: { $ref: "#/components/schemas/Member" } },
        },
      },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    "/api/v3/consensus/propose": {
      post: {
        summary: "Propose an entry; with approval, a decision that needs votes.",
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["entry_type", "data"],
                additionalProperties: false,
                properties: {
                  entry_type: {
                    type: "string",
                    minLength: 1,
                    maxLength: 50,
                    description: "Not starting with raft., consensus. or juno.",
                  },
                  data: { description: "Any JSON." },
                  approval: { $ref: "#/components/schemas/Approval" },
                },
              },
            },
          },
        },
        responses: {
          "201": json(
            { type: "object", properties: { index: { type: "integer" }, term: { type: "integer" } } },
            "Committed and applied.",
          ),
          "202": json(
            {
              type: "object",
              properties: {
                index: { type: "integer" },
                term: { type: "integer" },
                status: { const: "pending" },
              },
            },
            "The decision is committed and waits for votes.",
          ),
          "413": errorResponse("Body over 1 MiB (payload_too_large)."),
          ...common,
        },
      },
    },
    "/api/v3/consensus/vote": {
      post: {
        summary: "Vote on a decision; it is approved or rejected once the quorum is reached either way.",
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["proposal", "voter", "vote"],
                additionalProperties: false,
                properties: {
                  proposal: { type: "integer", minimum: 1 },
                  voter: { type: "string" },
                  vote: { type: "string", enum: ["approve", "reject"] },
                },
              },
            },
          },
        },
        responses: {
          "200": json(
            {
              type: "object",
              properties: {
                index: { type: "integer" },
                proposal: { type: "integer" },
                status: { type: "string" },
                decision: { $ref: "#/components/schemas/Decision" },
              },
            },
            "The vote is committed.",
          ),
          "404": errorResponse("No decision at that index (unknown_proposal)."),
          "409": errorResponse("duplicate_vote or unknown_voter."),
          ...common,
        },
      },
    },
    "/api/v3/consensus/decisions/{index}": {
      get: {
        summary: "A decision and its votes.",
        parameters: [
          { name: "index", in: "path", required: true, schema: { type: "integer", minimum: 1 } },
          consistency,
        ],
        responses: {
          "200": json({ $ref: "#/components/schemas/Decision" }, "The decision."),
          "404": errorResponse("unknown_proposal."),
          ...common,
        },
      },
    },
    "/api/v3/consensus/log": {
      get: {
        summary: "Committed log entries, paginated.",
        parameters: [
          { name: "from", in: "query", schema: { type: "integer", minimum: 1 } },
          {
            name: "limit",
            in: "query",
            schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
          },
          consistency,
        ],
        responses: {
          "200": json(
            {
              type: "object",
              properties: {
                entries: { type: "array", items: { $ref: "#/components/schemas/LogEntry" } },
                first_index: { type: "integer" },
                commit_index: { type: "integer" },
              },
            },
            "A page of committed entries.",
          ),
          "410": errorResponse(
            "The range was compacted (compacted); error.first_index is the first available index.",
          ),
          ...common,
        },
      },
    },
    "/api/v3/consensus/status": {
      get: {
        summary: "This node's view: role, term, leader, indexes, members and their replication.",
        parameters: [consistency],
        responses: { "200": json({ $ref: "#/components/schemas/Status" }, "Status."), ...common },
      },
    },
    "/api/v3/cluster/members": {
      get: {
        summary: "Cluster members.",
        parameters: [consistency],
        responses: {
          "200": json(
            {
              type: "object",
              properties: { members: { type: "array", items: { $ref: "#/components/schemas/Member" } } },
            },
            "Members.",
          ),
          ...common,
        },
      },
      post: {
        summary: "Add a node: it joins as a learner and is promoted once caught up.",
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["id", "raft_addr"],
                additionalProperties: false,
                properties: {
                  id: { type: "string" },
                  raft_addr: { type: "string", description: "host:port of the new node's Raft transport." },
                  http_addr: { type: "string", description: "host:port of its HTTP API." },
                },
              },
            },
          },
        },
        responses: {
          "201": json(
            {
              type: "object",
              properties: { id: { type: "string" }, voter: { type: "boolean" }, index: { type: "integer" } },
            },
            "Added.",
          ),
          "409": errorResponse("Another membership change is still pending (config_change_pending)."),
          ...common,
        },
      },
    },
    "/api/v3/cluster/members/{id}": {
      delete: {
        summary: "Remove a member (the leader too: it steps down once its removal commits).",
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          "200": json(
            {
              type: "object",
              properties: {
                id: { type: "string" },
                removed: { type: "boolean" },
                index: { type: "integer" },
              },
            },
            "Removed.",
          ),
          "409": errorResponse("config_change_pending."),
          ...common,
        },
      },
    },
    "/api/v3/cluster/leader": {
      post: {
        summary: "Transfer leadership to a voter, once it has caught up.",
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["id"],
                additionalProperties: false,
                properties: { id: { type: "string" } },
              },
            },
          },
        },
        responses: {
          "202": json(
            { type: "object", properties: { transferring_to: { type: "string" } } },
            "Transfer started.",
          ),
          ...common,
        },
      },
    },
    "/api/v3/openapi.json": {
      get: {
        summary: "This document.",
        security: [],
        responses: { "200": { description: "The OpenAPI document." } },
      },
    },
    "/healthz": {
      get: {
        summary: "The process is alive.",
        security: [],
        responses: { "200": { description: "Alive." } },
      },
    },
    "/readyz": {
      get: {
        summary: "Member of a cluster with a known leader and caught up.",
        security: [],
        responses: { "200": { description: "Ready." }, "503": { description: "Not ready." } },
      },
    },
    "/metrics": {
      get: {
        summary: "Prometheus metrics.",
        security: [],
        responses: { "200": { description: "Exposition text." } },
      },
    },
  },
} as const;
