// Ends every run with one plain "tests: N passed, N failed, N skipped" line, so CI (and a
// person skimming a log) can count without knowing vitest's own format.
import type { Reporter, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const count = { passed: 0, failed: 0, skipped: 0 };
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === "passed" || state === "failed" || state === "skipped") count[state]++;
      }
      // A file whose setup failed has no passing tests to show for it: count it as a failure.
      if (m.state() === "failed" && [...m.children.allTests("failed")].length === 0) count.failed++;
    }
    process.stdout.write(`tests: ${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped\n`);
  }
}
