// ConfigSync: uploads one server's content-addressed release file, then unpacks it on the host.
// State holds the release's path and hash (a FileAsset), never its bytes (DESIGN.md §4).
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { renderSyncBootstrap, uploadName } from "./lib/remoteCommand";
import { parseResultLine } from "./lib/result";
import { createdOnly } from "./lib/created";

export interface ConfigSyncArgs {
  connection: types.input.remote.ConnectionArgs;
  host: string;
  user: string;
  /** sha256 of the tarball (see lib/release.ts). */
  hash: pulumi.Input<string>;
  /** Local path of the tarball, <hash>.tar.gz (lib/release.ts writeReleaseFile). */
  tarballPath: pulumi.Input<string>;
  keepReleases: number;
  /**
   * After these the key is accepted, so the upload (a file in the user's home) runs next to the login
   * test instead of after it: one SSH round trip less on a first deploy. The unpack waits for `opts.dependsOn`.
   */
  uploadAfter: pulumi.Input<pulumi.Resource>[];
}

export interface ConfigSync {
  /** CopyToRemote of the tarball into the SSH user's home (SFTP; reruns when the hash changes). */
  upload: remote.CopyToRemote;
  /** receive.sh through the sync bootstrap: unpack into releases/<hash>, swap current atomically. */
  receive: remote.Command;
}

/** Creates `${name}-upload` and `${name}`, both keyed by the release hash: an unchanged tree runs neither. */
export function createConfigSync(name: string, args: ConfigSyncArgs, opts: pulumi.CustomResourceOptions): ConfigSync {
  // A new release replaces the upload (triggers are replaceOnChanges), so it is copied by Create,
  // whatever a provider version's Update does; CopyToRemote has no Delete, the bootstrap prunes.
  const upload = new remote.CopyToRemote(
    `${name}-upload`,
    {
      connection: args.connection,
      source: pulumi.output(args.tarballPath).apply((p) => new pulumi.asset.FileAsset(p)),
      remotePath: pulumi.output(args.hash).apply(uploadName),
      triggers: [args.hash],
    },
    { ...opts, dependsOn: args.uploadAfter },
  );
  const receive = new remote.Command(
    name,
    {
      connection: args.connection,
      create: pulumi.output(args.hash).apply((h) => renderSyncBootstrap(h, args.keepReleases)),
      triggers: [args.hash],
      addPreviousOutputInEnv: false,
    },
    { ...opts, dependsOn: [...toArray(opts.dependsOn), upload] },
  );
  return { upload, receive };
}

function toArray(d: pulumi.CustomResourceOptions["dependsOn"]): pulumi.Input<pulumi.Resource>[] {
  if (d === undefined) return [];
  return Array.isArray(d) ? d : [d as pulumi.Input<pulumi.Resource>];
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
