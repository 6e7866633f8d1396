// KeyAuthorization: the ssh-copy-id step, once, with bootstrap credentials; rotations over the current key.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { dispatchUpload, renderAuthorize, renderInstallKey } from "./lib/remoteCommand";

export interface KeyAuthorizationArgs {
  /** Bootstrap connection (agent, key file or password); used only by the first install. */
  bootstrap: types.input.remote.ConnectionArgs;
  /** The current deploy key's connection: the login test. */
  deploy: types.input.remote.ConnectionArgs;
  /** The previous rotation's key connection: authorizes the current key when it rotated (none at rotation 1). */
  previous?: types.input.remote.ConnectionArgs;
  user: string;
  rotation: number;
  authorizedKey: pulumi.Input<string>;
  previousAuthorizedKey?: pulumi.Input<string>;
  publicKey: pulumi.Input<string>;
  from: readonly string[];
  /** This stack's marker, nhs-deploy@<stack>/<server>: the comment ending our key line. */
  marker: string;
}

/** components/host/dispatch.sh, the deploy key's forced command, as the bootstrap installs it. */
const DISPATCHER_SOURCE = path.join(__dirname, "host", "dispatch.sh");

export class KeyAuthorization extends pulumi.ComponentResource {
  readonly dispatcher: remote.CopyToRemote;
  readonly install: remote.Command;
  readonly rotate?: remote.Command;
  readonly loginTest: remote.Command;
  /** The steps after which the current key is accepted (install, then rotate if any): an SFTP upload can go. */
  readonly keyInstalled: pulumi.Resource[];

  constructor(name: string, args: KeyAuthorizationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nixos-home-server:index:KeyAuthorization", name, {}, opts);
    // The only step that uses the bootstrap credentials, and only when it is created: the dispatcher
    // and this stack's key line go in. Afterwards the deploy key does everything, rotations included
    // (below), so later changes to this step's inputs are ignored: a bootstrap password changed or
    // gone (CI), a key file that is not on this machine, password logins turned off, a rotated key.
    // No `delete`: the host keeps the key when the stack forgets it.
    const lines = pulumi
      .all([args.previousAuthorizedKey, args.authorizedKey])
      .apply(([prev, cur]) => (args.rotation > 1 && prev !== undefined ? [prev, cur] : [cur]));
    // The dispatcher goes up as a file (SFTP), so state holds its path and hash, not its text, in
    // every checkpoint; the install moves it into place as root, or drops it when one is there.
    this.dispatcher = new remote.CopyToRemote(
      `${name}-dispatcher`,
      {
        connection: args.bootstrap,
        source: new pulumi.asset.FileAsset(DISPATCHER_SOURCE),
        remotePath: dispatchUpload(args.marker),
      },
      { parent: this, ignoreChanges: ["connection", "source", "remotePath"] },
    );
    this.install = new remote.Command(
      `${name}-install`,
      {
        connection: args.bootstrap,
        create: lines.apply((l) => renderInstallKey(args.user, l, args.marker)),
        addPreviousOutputInEnv: false, // sent with SSH setenv; sshd without AcceptEnv would refuse
      },
      { parent: this, dependsOn: [this.dispatcher], ignoreChanges: ["connection", "create"] },
    );
    // A rotation: the previous key (still installed) asks the dispatcher to swap in the current one.
    // A first install at rotation N > 1 put both lines in, so this works on a new host too.
    if (args.rotation > 1 && args.previous) {
      this.rotate = new remote.Command(
        `${name}-rotate`,
        {
          connection: args.previous,
          create: pulumi.output(args.publicKey).apply((k) => renderAuthorize(k, args.from)),
          triggers: [args.publicKey],
          addPreviousOutputInEnv: false,
        },
        // A changed deployFrom alone is the login test's job: the previous key is gone by then.
        { parent: this, dependsOn: [this.install], ignoreChanges: ["create"] },
      );
    }
    this.keyInstalled = [this.install, ...(this.rotate ? [this.rotate] : [])];
    // Over the current key: the host rewrites this stack's line (so a changed deployFrom reaches
    // ~/.ssh/authorized_keys, which sshd reads before the NixOS-declared keys) and checks that the
    // dispatcher's root half runs through sudo.
    this.loginTest = new remote.Command(
      `${name}-login-test`,
      {
        connection: args.deploy,
        create: pulumi.output(args.publicKey).apply((k) => renderAuthorize(k, args.from)),
        addPreviousOutputInEnv: false,
        triggers: [args.authorizedKey],
      },
      { parent: this, dependsOn: this.keyInstalled },
    );
    this.registerOutputs({});
  }
}
