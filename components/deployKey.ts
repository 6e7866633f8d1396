// DeployKey: the ed25519 key Pulumi deploys with, derived from random bytes kept as a secret.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { authorizedKeyLine, publicKeyLine } from "./lib/sshKey";
import { agentKeyFromSeed, serveAgent } from "./lib/sshAgent";
import { createdOnly } from "./lib/created";

export interface DeployKeyArgs {
  /** Comment ending the public key line: the stack's marker, nhs-deploy@<stack>/<server>. */
  comment: string;
  /** Bump to rotate: a new value replaces the random bytes and so the key. */
  rotation: number;
  /** deployFrom: the source addresses the key is accepted from (authorized_keys `from=`). */
  from: readonly string[];
  /** Where this run serves the current key's agent, and the previous rotation's (lib/sshAgent.ts agentSocketPath). */
  agentSockets: { current: string; previous: string };
}

/** The keepers of the two seeds: the newest odd and the newest even rotation up to `rotation`. */
export function seedRotations(rotation: number): { odd: number; even: number } {
  return rotation % 2 === 1 ? { odd: rotation, even: rotation - 1 } : { odd: rotation - 1, even: rotation };
}

export class DeployKey extends pulumi.ComponentResource {
  /** The current key's 32-byte ed25519 seed, base64 (secret): HostProbe rebuilds the key from it on refresh. */
  readonly keySeed: pulumi.Output<string>;
  /**
   * The socket of an agent holding only this key, served by this program while it deploys: what
   * pulumi-command connections use, so no command keeps the key in state. Resolves once it listens.
   */
  readonly agentSocketPath: pulumi.Output<string>;
  /** The previous rotation's key, behind its own socket: a rotation authorizes the new key with it. None at rotation 1. */
  readonly previousAgentSocketPath?: pulumi.Output<string>;
  /** "ssh-ed25519 AAAA... marker": public, so it is shown in plain text. */
  readonly publicKey: pulumi.Output<string>;
  readonly previousPublicKey?: pulumi.Output<string>;
  /** The authorized_keys line with the deploy key's restrictions and forced command. */
  readonly authorizedKey: pulumi.Output<string>;
  readonly previousAuthorizedKey?: pulumi.Output<string>;

  constructor(name: string, args: DeployKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nixos-home-server:index:DeployKey", name, {}, opts);
    // Two seeds, one for odd and one for even rotations: a bump replaces only the other one, so the
    // current key is still known and can authorize its successor after password logins are off.
    const r = seedRotations(args.rotation);
    const seed = (suffix: string, rotation: number) =>
      new random.RandomBytes(
        `${name}-${suffix}`,
        { length: 32, keepers: { rotation: String(rotation) } },
        { parent: this, additionalSecretOutputs: ["base64", "hex"] },
      );
    const odd = seed("seed", r.odd);
    // Rotation 1 has no previous key: the even seed first exists at rotation 2, so a stack that never
    // rotates keeps one seed (each is ~0.5 KB of secrets in every checkpoint and history copy).
    const even = r.even >= 1 ? seed("seed-even", r.even) : undefined;
    const [current, previous] = args.rotation % 2 === 1 ? [odd, even] : [even!, odd];
    // createdOnly: a targeted run that leaves out a server never created has no bytes for it.
    const pair = (s: random.RandomBytes) =>
      createdOnly(s.base64).apply((b64) => {
        const bytes = Buffer.from(b64, "base64");
        return { publicKey: publicKeyLine(bytes, args.comment), seed: bytes };
      });
    // A preview runs no command, so it serves nothing. The path is not secret: unsecret, or every
    // connection holding it would be encrypted into state again.
    const agent = (p: pulumi.Output<{ seed: Buffer }>, socket: string) =>
      pulumi.unsecret(p.apply(async ({ seed }) => {
        if (!pulumi.runtime.isDryRun()) await serveAgent(socket, agentKeyFromSeed(seed, args.comment));
        return socket;
      }));
    const now = pair(current);
    const before = previous && pair(previous);
    this.keySeed = pulumi.secret(now.apply((p) => p.seed.toString("base64")));
    this.agentSocketPath = agent(now, args.agentSockets.current);
    this.previousAgentSocketPath = before && agent(before, args.agentSockets.previous);
    // The public half is derived from the secret seed, so Pulumi taints it secret; it is public by
    // nature and must appear in command text and in the NixOS config, so it is unsecreted on purpose.
    this.publicKey = pulumi.unsecret(now.apply((p) => p.publicKey));
    this.previousPublicKey = before && pulumi.unsecret(before.apply((p) => p.publicKey));
    this.authorizedKey = this.publicKey.apply((k) => authorizedKeyLine(k, args.from));
    this.previousAuthorizedKey = this.previousPublicKey?.apply((k) => authorizedKeyLine(k, args.from));
    this.registerOutputs({ publicKey: this.publicKey, authorizedKey: this.authorizedKey });
  }
}
