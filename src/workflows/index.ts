/** The workflows domain: definitions (parse, validate, normalise) and the pure engine that runs them. */
export * from "./definition.js";
export * from "./engine.js";
export * from "./ids.js";
export * from "./iso-time.js";
export * from "./limits.js";
export * from "./progress.js";
export * from "./run.js";
export * from "./schema.js";
export * from "./template.js";
export * from "./trigger.js";
