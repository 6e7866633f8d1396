// Verify: health checks over a fresh SSH session; confirms the deploy or rolls it back on the host.
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { VerifyArgs, renderVerify } from "./lib/remoteCommand";
import { VerifyResult, parseVerifyResult } from "./lib/result";
import { createdOnly } from "./lib/created";

export interface VerifyCommandArgs {
  connection: types.input.remote.ConnectionArgs;
  host: string;
  user: string;
  verify: pulumi.Input<VerifyArgs>;
  /** Rebuild's output: every new rebuild result reruns the checks. */
  rebuildResult: pulumi.Input<string>;
}

export function createVerify(name: string, args: VerifyCommandArgs, opts: pulumi.CustomResourceOptions): remote.Command {
  return new remote.Command(
    name,
    {
      // Each remote.Command dials its own SSH connection, so this proves the new config still lets us in.
      connection: args.connection,
      create: pulumi.output(args.verify).apply((v) => renderVerify(v)),
      triggers: [args.rebuildResult],
      addPreviousOutputInEnv: false,
      // Custom check commands may print anything on stderr; keep only the result line in the logs.
      logging: "stdout",
    },
    { ...opts, additionalSecretOutputs: ["stderr"] },
  );
}

export function verifyResult(cmd: remote.Command, host: string): pulumi.Output<VerifyResult> {
  return createdOnly(cmd.stdout).apply((s) => parseVerifyResult(s, host));
}
