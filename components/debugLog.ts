// Keeps secrets out of `pulumi … --debug`: the Node SDK logs each RPC's whole response at debug level.
//
// runtime/resource.js and invoke.js log `… RPC finished: …; err: …, resp: ${innerResponse}`, and a
// protobuf message's toString() prints its fields: a RegisterResource response carries the resource's
// outputs in plaintext, secrets included (`pulumi preview --debug` printed the deploy private key and
// the key seed). The line stays, its payload goes. The engine's own verbose logs (-v, --logflow) are
// outside the program's reach; the README warns about them.
const REDACTED = "[payload not logged by nixos-home-server: it may hold secrets]";

/** The debug message without an RPC response payload. Pure; exported for the unit test. */
export function withoutRpcPayload(msg: string): string {
  return msg.replace(/( RPC finished: [\s\S]*?resp: )[\s\S]*$/, `$1${REDACTED}`);
}

/** Wraps the SDK's log.debug (the module object the SDK's runtime calls through) once. */
export function redactRpcPayloadsInDebugLog(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const log = require("@pulumi/pulumi/log") as { debug: (msg: string, ...rest: unknown[]) => unknown; nhsRedacted?: boolean };
  if (log.nhsRedacted) return;
  const debug = log.debug;
  log.debug = (msg: string, ...rest: unknown[]) => debug(typeof msg === "string" ? withoutRpcPayload(msg) : msg, ...rest);
  log.nhsRedacted = true;
}
