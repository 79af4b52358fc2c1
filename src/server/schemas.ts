/** JSON schemas per route: the edge refuses malformed input before anything else runs. */

export { commandProblem } from "../control/index.js";
import { MAX_APPROVAL_VOTERS, MAX_ENTRY_TYPE_LENGTH, MAX_ID_LENGTH } from "../control/index.js";

/** Largest page of the log one request may ask for. */
export const MAX_LOG_PAGE = 1000;

const id = { type: "string", minLength: 1, maxLength: MAX_ID_LENGTH } as const;
const address = {
  type: "string",
  minLength: 3,
  maxLength: 300,
  pattern: "^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$",
} as const;
const consistency = { type: "string", enum: ["linearizable", "stale"] } as const;

/** POST /api/v3/consensus/propose */
export const propose = {
  body: {
    type: "object",
    required: ["entry_type", "data"],
    additionalProperties: false,
    properties: {
      entry_type: { type: "string", minLength: 1, maxLength: MAX_ENTRY_TYPE_LENGTH },
      data: {},
      approval: {
        type: "object",
        required: ["voters", "quorum"],
        additionalProperties: false,
        properties: {
          voters: { type: "array", minItems: 1, maxItems: MAX_APPROVAL_VOTERS, uniqueItems: true, items: id },
          quorum: { type: "integer", minimum: 1 },
        },
      },
    },
  },
} as const;

/** POST /api/v3/consensus/vote */
export const vote = {
  body: {
    type: "object",
    required: ["proposal", "voter", "vote"],
    additionalProperties: false,
    properties: {
      proposal: { type: "integer", minimum: 1 },
      voter: id,
      vote: { type: "string", enum: ["approve", "reject"] },
    },
  },
} as const;

/** GET /api/v3/consensus/decisions/:index */
export const decision = {
  params: { type: "object", required: ["index"], properties: { index: { type: "integer", minimum: 1 } } },
  querystring: { type: "object", additionalProperties: false, properties: { consistency } },
} as const;

/** GET /api/v3/consensus/log */
export const log = {
  querystring: {
    type: "object",
    additionalProperties: false,
    properties: {
      from: { type: "integer", minimum: 1 },
      limit: { type: "integer", minimum: 1, maximum: MAX_LOG_PAGE },
      consistency,
    },
  },
} as const;

/** Reads that only take ?consistency. */
export const stale = {
  querystring: { type: "object", additionalProperties: false, properties: { consistency } },
} as const;

/** POST /api/v3/cluster/members */
export const addMember = {
  body: {
    type: "object",
    required: ["id", "raft_addr"],
    additionalProperties: false,
    properties: { id, raft_addr: address, http_addr: address },
  },
} as const;

/** DELETE /api/v3/cluster/members/:id */
export const member = {
  params: { type: "object", required: ["id"], properties: { id } },
} as const;

/** POST /api/v3/cluster/leader */
export const transfer = {
  body: { type: "object", required: ["id"], additionalProperties: false, properties: { id } },
} as const;
