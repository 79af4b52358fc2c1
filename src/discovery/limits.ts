/**
 * Bounds on what one discovered agent may carry. Outside systems are not trusted to keep their
 * metadata small, and every agent ends up in the replicated registry, so each field is bounded
 * here, at the edge. The name and endpoint bounds are the seed schema's VARCHAR(100) and VARCHAR(255).
 */

/** Longest agent name (seed schema: agents.name VARCHAR(100)); longer names are cut. */
export const MAX_AGENT_NAME_LENGTH = 100;
/** Longest endpoint URL (seed schema: agents.endpoint VARCHAR(255)); a longer one makes the entry invalid. */
export const MAX_ENDPOINT_LENGTH = 255;
/** Longest team name; a longer one falls back to the provider's default team. */
export const MAX_TEAM_LENGTH = 100;
/** Most skills one agent may list; the rest are dropped. */
export const MAX_SKILLS = 64;
/** Longest skill; longer ones are dropped. */
export const MAX_SKILL_LENGTH = 100;
/** Most labels one agent may carry; the rest are dropped (in the order the source gave them). */
export const MAX_LABELS = 32;
/** Longest label key; longer ones are dropped. */
export const MAX_LABEL_KEY_LENGTH = 100;
/** Longest label value; longer values are cut. */
export const MAX_LABEL_VALUE_LENGTH = 256;
/** Largest capacity a source may claim. */
export const MAX_CAPACITY = 10_000;
/** Largest weight a source may claim. */
export const MAX_WEIGHT = 1_000_000;
/** Most agents one provider reports; a source with more is refused as a whole rather than cut arbitrarily. */
export const MAX_AGENTS_PER_PROVIDER = 10_000;
