// Verify: health checks over a fresh SSH session; confirms the deploy or rolls it back on the host.
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { VerifyArgs, renderVerify } from "./lib/remoteCommand";
import { VerifyResult, parseVerifyResult } from "./lib/result";

export interface VerifyCommandArgs {
  connection: types.input.remote.ConnectionArgs;
  host: string;
  user: string;
  verify: pulumi.Input<VerifyArgs>;
  /** Rebuild's output: every new rebuild result reruns the checks. */
  rebuildResult: pulumi.Input<string>;
  /** For the lost-contact report: the server's name and how long its watchdog waits. */
  server: string;
  confirmTimeoutSeconds: number;
}

/**
 * Verify failed without the host's verdict (no result line): the new SSH connection never got in.
 * Says what happens next, as deploy-rs does: the host is not left broken, its watchdog acts.
 */
export function lostContactReport(server: string, confirmTimeoutSeconds: number, error: string): string | undefined {
  if (error.includes("nhs-result")) return undefined;
  const cause = error.split("\n")[0].trim();
  return (
    `server "${server}": Verify could not reach the host over a new SSH connection after the switch (${cause}). ` +
    `If the new generation broke SSH, the host's watchdog rolls back to the previous generation by itself ` +
    `within ${confirmTimeoutSeconds}s of the switch; nothing more is needed from here. Fix the config and run pulumi up again.`
  );
}

export function createVerify(name: string, args: VerifyCommandArgs, opts: pulumi.CustomResourceOptions): remote.Command {
  return new remote.Command(
    name,
    {
      // Each remote.Command dials its own SSH connection, so this proves the new config still lets us in.
      connection: args.connection,
      create: pulumi.output(args.verify).apply((v) => renderVerify(args.user, v)),
      triggers: [args.rebuildResult],
      addPreviousOutputInEnv: false,
      // Custom check commands may print anything on stderr; keep only the result line in the logs.
      logging: "stdout",
    },
    {
      ...opts,
      additionalSecretOutputs: ["stderr"],
      hooks: {
        onError: [
          new pulumi.ErrorHook(`${name}-lost-contact`, (e) => {
            const report = lostContactReport(args.server, args.confirmTimeoutSeconds, e.errors[0] ?? "");
            if (report) pulumi.log.error(report);
            return false; // never retry: the host decides, and it has already acted
          }),
        ],
      },
    },
  );
}

export function verifyResult(cmd: remote.Command, host: string): pulumi.Output<VerifyResult> {
  return cmd.stdout.apply((s) => parseVerifyResult(s, host));
}
