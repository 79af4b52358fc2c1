/** Schemas every module's routes share: the error shape, read consistency, and response sets. */

import Type, { type TSchema } from "typebox";

/** The one error shape. Details beside code and message depend on the code (leader_id, first_index). */
export const ErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: "stable, machine-readable" }),
        message: Type.String({ description: "for people" }),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: false, $id: "Error" },
);

/** `?consistency=`: linearizable (the default, ReadIndex) or stale (this node's local state). */
export const Consistency = Type.Optional(
  Type.Union([Type.Literal("linearizable"), Type.Literal("stale")], {
    description:
      "linearizable (default) confirms leadership with a quorum first; stale reads this node's state",
  }),
);

/** A query string that takes only ?consistency. */
export const ConsistencyQuery = Type.Object({ consistency: Consistency }, { additionalProperties: false });

/** The errors any /api/v3 route may answer: bad input, no or wrong token, and the server's own failure. */
const COMMON_ERRORS = [400, 401, 500] as const;
/** The errors any route that goes through Raft may add: no leader, overloaded, timeout. */
export const CONSENSUS_ERRORS = [503, 504] as const;

/** A response map: the success bodies given, plus the error shape for every listed status. */
export function responses(
  success: Readonly<Record<number, TSchema>>,
  errors: readonly number[] = [],
): Record<number, TSchema> {
  const out: Record<number, TSchema> = { ...success };
  for (const status of [...COMMON_ERRORS, ...errors]) out[status] = Type.Ref("Error");
  return out;
}
