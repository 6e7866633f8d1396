import { defineConfig } from "vitest/config";

// Host and e2e suites start namespaces and sshd as root; they share machine-wide
// resources (netns names, addresses), so files run one at a time.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "components/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    reporters: ["default", "./test/summaryReporter.ts"],
  },
});
