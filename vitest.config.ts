import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Compiles what the tests' child processes run, so they start without tsx.
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 120_000,
    pool: "forks",
    // Vitest's default on two cores is one worker (cores - 1), which runs the files one after
    // another; two keep the suite within its budget. The timing-sensitive files (real processes,
    // failure detection) are written to hold with one core to themselves.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
