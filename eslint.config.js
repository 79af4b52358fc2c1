// Lint rules: type-aware checks for floating promises and non-exhaustive switches everywhere,
// and a hard wall around the pure core (src/raft, src/control): no node: imports, no timers,
// no Date, no Math.random, nothing async. The simulator depends on that purity.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

const pureCoreRestrictions = {
  "no-restricted-imports": [
    "error",
    {
      patterns: [
        {
          group: ["node:*", "fs", "net", "os", "path", "crypto", "child_process"],
          message: "The pure core does no I/O.",
        },
      ],
    },
  ],
  "no-restricted-globals": [
    "error",
    { name: "Date", message: "Time arrives as ticks in the pure core." },
    { name: "setTimeout", message: "No timers in the pure core." },
    { name: "setInterval", message: "No timers in the pure core." },
    { name: "setImmediate", message: "No timers in the pure core." },
    { name: "process", message: "No process access in the pure core." },
    { name: "Promise", message: "The pure core is synchronous." },
  ],
  "no-restricted-properties": [
    "error",
    { object: "Math", property: "random", message: "Randomness comes from the injected generator." },
  ],
  "no-restricted-syntax": [
    "error",
    { selector: "FunctionDeclaration[async=true]", message: "The pure core is synchronous." },
    { selector: "ArrowFunctionExpression[async=true]", message: "The pure core is synchronous." },
    { selector: "FunctionExpression[async=true]", message: "The pure core is synchronous." },
    { selector: "AwaitExpression", message: "The pure core is synchronous." },
  ],
};

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  { files: ["src/raft/**/*.ts", "src/control/**/*.ts"], rules: pureCoreRestrictions },
  // Configuration parsing is pure too: it is handed argv and the environment, so tests need no process.
  { files: ["src/config/**/*.ts"], rules: pureCoreRestrictions },
  // The dashboard's page (bundled by scripts/build-ui.ts) runs in the browser: DOM globals, no Node.
  {
    files: ["src/web/app/**/*.ts"],
    languageOptions: { globals: globals.browser },
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["node:*"], message: "The dashboard's page runs in the browser." }] },
      ],
    },
  },
  { files: ["eslint.config.js"], ...tseslint.configs.disableTypeChecked },
  // The examples are plain JavaScript run against the built package, outside the TypeScript project.
  { files: ["examples/**/*.mjs"], ...tseslint.configs.disableTypeChecked },
);
