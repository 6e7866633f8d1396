// ConfigSync: ships one server's release as a content-addressed tarball on stdin.
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { renderSyncBootstrap } from "./lib/remoteCommand";
import { parseResultLine } from "./lib/result";
import { createdOnly } from "./lib/created";

export interface ConfigSyncArgs {
  connection: types.input.remote.ConnectionArgs;
  host: string;
  user: string;
  /** sha256 of the tarball (see lib/release.ts). */
  hash: pulumi.Input<string>;
  /** Base64 of the tarball. */
  tarballBase64: pulumi.Input<string>;
  keepReleases: number;
}

/** Creates `${name}`: a remote.Command that reruns exactly when the release hash changes. */
export function createConfigSync(name: string, args: ConfigSyncArgs, opts: pulumi.CustomResourceOptions): remote.Command {
  return new remote.Command(
    name,
    {
      connection: args.connection,
      create: pulumi.output(args.hash).apply((h) => renderSyncBootstrap(args.user, h, args.keepReleases)),
      stdin: args.tarballBase64,
      triggers: [args.hash],
      addPreviousOutputInEnv: false,
    },
    opts,
  );
}

/** The release the host last reported (an untouched blue-green colour: whatever it runs). */
export function reportedRelease(cmd: remote.Command, host: string): pulumi.Output<{ release: string; hash: string }> {
  return createdOnly(cmd.stdout).apply((stdout) => {
    const f = parseResultLine(stdout, { step: "sync", host, required: ["status", "release", "hash"] });
    return { release: f.release, hash: f.hash };
  });
}

/** The release directory the host reports, checked against the hash we sent. */
export function syncedRelease(cmd: remote.Command, host: string, hash: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.all([createdOnly(cmd.stdout), hash]).apply(([stdout, h]) => {
    const f = parseResultLine(stdout, { step: "sync", host, required: ["status", "release", "hash"] });
    if (f.hash !== h) throw new Error(`sync on ${host}: host reports release ${f.hash}, expected ${h}`);
    return f.release;
  });
}
