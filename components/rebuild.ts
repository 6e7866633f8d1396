// Rebuild: runs the release's deploy.sh (watchdog + nixos-rebuild, detached from SSH) and reads its result.
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { DeployArgs, renderDeploy } from "./lib/remoteCommand";
import { DeployResult, parseDeployResult } from "./lib/result";
import { createdOnly } from "./lib/created";

export interface RebuildArgs {
  connection: types.input.remote.ConnectionArgs;
  host: string;
  user: string;
  deploy: pulumi.Input<DeployArgs>;
  /** Changes when a refresh found the host drifted (HostProbe's id): redeploy the same release. */
  redeployToken: pulumi.Input<string>;
}

export function createRebuild(name: string, args: RebuildArgs, opts: pulumi.CustomResourceOptions): remote.Command {
  const deploy = pulumi.output(args.deploy);
  return new remote.Command(
    name,
    {
      connection: args.connection,
      create: deploy.apply((d) => renderDeploy(d)),
      // A new release always redeploys, even if nothing else in the command changed.
      triggers: [deploy.apply((d) => d.hash), args.redeployToken],
      addPreviousOutputInEnv: false,
    },
    opts,
  );
}

export function deployResult(cmd: remote.Command, host: string): pulumi.Output<DeployResult> {
  return createdOnly(cmd.stdout).apply((s) => parseDeployResult(s, host));
}
