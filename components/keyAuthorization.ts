// KeyAuthorization: the ssh-copy-id step, with bootstrap credentials, then a passwordless login test.
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { renderInstallKey, renderLoginTest } from "./lib/remoteCommand";

export interface KeyAuthorizationArgs {
  /** Bootstrap connection (agent, key file or password). */
  bootstrap: types.input.remote.ConnectionArgs;
  /** Deploy key connection, used for the login test. */
  deploy: types.input.remote.ConnectionArgs;
  user: string;
  authorizedKey: pulumi.Input<string>;
  /** Comment that marks our key line in authorized_keys. */
  marker: string;
}

export class KeyAuthorization extends pulumi.ComponentResource {
  readonly install: remote.Command;
  readonly loginTest: remote.Command;

  constructor(name: string, args: KeyAuthorizationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nixos-home-server:index:KeyAuthorization", name, {}, opts);
    // No `delete`: the host keeps the key when the stack forgets it. A delete would also run after a
    // create-before-replace of this same line and remove the key just installed. Rotation removes the
    // old line instead (see renderInstallKey's marker).
    this.install = new remote.Command(
      `${name}-install`,
      {
        connection: args.bootstrap,
        create: pulumi.output(args.authorizedKey).apply((line) => renderInstallKey(line, args.marker)),
        addPreviousOutputInEnv: false, // sent with SSH setenv; sshd without AcceptEnv would refuse
      },
      // Bootstrap credentials may stop working once NixOS disables passwords; changing them must not rerun this.
      { parent: this, ignoreChanges: ["connection"] },
    );
    this.loginTest = new remote.Command(
      `${name}-login-test`,
      {
        connection: args.deploy,
        create: renderLoginTest(args.user),
        addPreviousOutputInEnv: false,
        triggers: [this.install.create],
      },
      { parent: this, dependsOn: [this.install] },
    );
    this.registerOutputs({});
  }
}
