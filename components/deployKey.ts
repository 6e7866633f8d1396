// DeployKey: the ed25519 key Pulumi deploys with, derived from random bytes kept as a secret.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { authorizedKeyLine, openSshKeyPairFromSeed } from "./lib/sshKey";
import { createdOnly } from "./lib/created";

export interface DeployKeyArgs {
  /** Comment ending the public key line; KeyAuthorization uses it to find an older key to replace. */
  comment: string;
  /** Bump to rotate: a new value replaces the random bytes and so the key. */
  rotation: number;
}

export class DeployKey extends pulumi.ComponentResource {
  /** OpenSSH private key (secret). */
  readonly privateKey: pulumi.Output<string>;
  /** "ssh-ed25519 AAAA... comment": public, so it is shown in plain text. */
  readonly publicKey: pulumi.Output<string>;
  /** The authorized_keys line with the deploy key's restrictions. */
  readonly authorizedKey: pulumi.Output<string>;

  constructor(name: string, args: DeployKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nixos-home-server:index:DeployKey", name, {}, opts);
    const seed = new random.RandomBytes(
      `${name}-seed`,
      { length: 32, keepers: { rotation: String(args.rotation) } },
      { parent: this, additionalSecretOutputs: ["base64", "hex"] },
    );
    // createdOnly: a targeted run that leaves out a server never created has no bytes for it.
    const pair = createdOnly(seed.base64).apply((b64) => openSshKeyPairFromSeed(Buffer.from(b64, "base64"), args.comment));
    this.privateKey = pulumi.secret(pair.apply((p) => p.privateKey));
    // The public half is derived from the secret seed, so Pulumi taints it secret; it is public by
    // nature and must appear in command text and in the NixOS config, so it is unsecreted on purpose.
    this.publicKey = pulumi.unsecret(pair.apply((p) => p.publicKey));
    this.authorizedKey = this.publicKey.apply(authorizedKeyLine);
    this.registerOutputs({ publicKey: this.publicKey, authorizedKey: this.authorizedKey });
  }
}
