/** The replicated state machine's public surface. */
export * from "./command.js";
export * from "./state.js";
export * from "./validate.js";
