// The SDK's per-promise stack traces, formatted by V8 instead of through source maps.
//
// @pulumi/pulumi's runtime/debuggable.js reads `new Error().stack` for every promise it makes (each
// RPC, each debug log line), only to print it if the promise leaks. ts-node's prepareStackTrace
// maps each of those frames through source maps: with 8 servers that was about 0.6 s of the
// program's CPU in a first deploy (bench/profile.ts, cpuprof), on a 2-core machine. Only those
// captures change; errors and Pulumi's resource source positions stay source-mapped.

interface Debuggable {
  debuggablePromise: <T>(p: Promise<T>, ctx: unknown) => Promise<T>;
  nhsPlainStacks?: boolean;
}

/** V8's own rendering of a stack: the error's toString, then one `    at …` line per frame. */
export function plainStack(err: Error, frames: NodeJS.CallSite[]): string {
  return [String(err), ...frames.map((f) => `    at ${f}`)].join("\n");
}

/** Wraps debuggablePromise (the SDK calls it through its module object) once. */
export function plainPromiseStacks(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const debuggable = require("@pulumi/pulumi/runtime/debuggable") as Debuggable;
  if (debuggable.nhsPlainStacks) return;
  const original = debuggable.debuggablePromise;
  debuggable.debuggablePromise = <T>(p: Promise<T>, ctx: unknown): Promise<T> => {
    const mapped = Error.prepareStackTrace;
    // A function of its own, not `undefined`: with Node's source maps on, Node maps when none is set.
    Error.prepareStackTrace = plainStack;
    try {
      return original(p, ctx);
    } finally {
      Error.prepareStackTrace = mapped;
    }
  };
  debuggable.nhsPlainStacks = true;
}
