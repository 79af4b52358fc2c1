/** The module kernel: the envelope, the registry, the replicated state and its snapshots (pure). */
export * from "./envelope.js";
export * from "./hash.js";
export * from "./json.js";
export * from "./kernel.js";
export * from "./log-record.js";
export * from "./module.js";
export * from "./registry.js";
export * from "./section.js";
export * from "./snapshot.js";
export * from "./table.js";
