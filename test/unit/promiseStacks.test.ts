// The SDK's per-promise stacks skip the installed (source-mapping) prepareStackTrace; nothing else does.
import { afterEach, describe, expect, it } from "vitest";
import { plainPromiseStacks } from "../../components/promiseStacks";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const debuggable = require("@pulumi/pulumi/runtime/debuggable") as { debuggablePromise: <T>(p: Promise<T>, ctx: unknown) => Promise<T> };
const before = Error.prepareStackTrace;
afterEach(() => {
  Error.prepareStackTrace = before;
});

describe("plainPromiseStacks", () => {
  it("the SDK's promise stacks are V8's own text; other stacks still go through the installed hook", async () => {
    let mappedCalls = 0;
    Error.prepareStackTrace = (err, frames) => {
      mappedCalls++;
      return `mapped ${frames.length}`;
    };
    plainPromiseStacks();
    plainPromiseStacks(); // once only: a second call does not wrap the wrapper
    const input = Promise.resolve(42);
    expect(await debuggable.debuggablePromise(input, "ctx")).toBe(42);
    // The SDK puts the trace on the promise it was given (for its leak report at exit).
    const trace = (input as unknown as { _debugStackTrace: string })._debugStackTrace;
    expect(trace).toMatch(/^Error\n\s+at /);
    expect(trace).toContain("promiseStacks.test.ts");
    expect(mappedCalls).toBe(0);
    // The hook is back in place for everything else.
    expect(new Error().stack).toMatch(/^mapped \d+$/);
    expect(mappedCalls).toBe(1);
  });
});
