// Deterministic ed25519 keys in OpenSSH format, derived from a 32-byte seed.
import { createHash, createPrivateKey, createPublicKey, KeyObject } from "crypto";

const KEY_TYPE = "ssh-ed25519";
// DER prefix of a PKCS#8 ed25519 private key; the 32-byte seed follows it.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** An SSH wire-format string: uint32 length, then the bytes. */
export function sshString(data: Buffer | string): Buffer {
  const body = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

export function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The raw 32-byte ed25519 public key for a seed. */
export function ed25519PublicFromSeed(seed: Buffer): Buffer {
  const spki = createPublicKey(ed25519PrivateKey(seed)).export({ format: "der", type: "spki" });
  return Buffer.from(spki.subarray(spki.length - 32));
}

/** The seed as a node:crypto private key object (signs with crypto.sign(null, data, key)). */
export function ed25519PrivateKey(seed: Buffer): KeyObject {
  if (seed.length !== 32) throw new Error(`ed25519 seed must be 32 bytes, got ${seed.length}`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
}

/** The wire-format public key blob: string "ssh-ed25519", string the 32-byte key. */
export function ed25519PublicBlob(seed: Buffer): Buffer {
  return Buffer.concat([sshString(KEY_TYPE), sshString(ed25519PublicFromSeed(seed))]);
}

/** The authorized_keys-format public key for `seed`: "ssh-ed25519 AAAA... comment". */
export function publicKeyLine(seed: Buffer, comment: string): string {
  return lineOfBlob(singleLine(comment), ed25519PublicBlob(seed));
}

/** `comment`, checked before any key work, so a bad comment is the error reported. */
function singleLine(comment: string): string {
  if (/[\r\n]/.test(comment)) {
    throw new Error("key comment must be a single line");
  }
  return comment;
}

function lineOfBlob(comment: string, publicBlob: Buffer): string {
  return `${KEY_TYPE} ${publicBlob.toString("base64")}${comment ? ` ${comment}` : ""}`;
}

export interface OpenSshKeyPair {
  /** PEM "OPENSSH PRIVATE KEY" block, unencrypted; treat as a secret. */
  privateKey: string;
  /** authorized_keys line: "ssh-ed25519 AAAA... comment". */
  publicKey: string;
}

/**
 * Encodes the key pair for `seed` the way `ssh-keygen` writes it. The two check-ints, random in
 * ssh-keygen, are taken from a hash of the seed so the same seed always yields the same text and
 * Pulumi never sees a spurious diff on the secret.
 */
export function openSshKeyPairFromSeed(seed: Buffer, comment: string): OpenSshKeyPair {
  singleLine(comment);
  const publicBlob = ed25519PublicBlob(seed);
  const publicKey = lineOfBlob(comment, publicBlob);
  const pub = publicBlob.subarray(publicBlob.length - 32);
  const checkInt = createHash("sha256").update("nixos-home-server checkint\0").update(seed).digest().readUInt32BE(0);
  let privateSection = Buffer.concat([
    uint32(checkInt),
    uint32(checkInt),
    sshString(KEY_TYPE),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  // Pad to the cipher block size (8 for "none") with 1, 2, 3, ... as OpenSSH requires.
  const padding: number[] = [];
  for (let i = 1; (privateSection.length + padding.length) % 8 !== 0; i++) padding.push(i);
  privateSection = Buffer.concat([privateSection, Buffer.from(padding)]);

  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0", "latin1"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    uint32(1),
    sshString(publicBlob),
    sshString(privateSection),
  ]);
  const b64 = body.toString("base64");
  const lines = b64.match(/.{1,70}/g) ?? [];
  const privateKey = `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`;
  return { privateKey, publicKey };
}

/** The deploy key's forced command on every host (components/host/dispatch.sh). */
export const DISPATCHER = "/var/lib/nixos-home-server/dispatch";

/**
 * A deploy key's marker, `nhs-deploy@<stack>/<server>`: the key line's comment, and how the host tells
 * one stack's key from another's (each install and rotation replaces only its own marker's line).
 */
export function deployKeyMarker(stack: string, server: string): string {
  const m = `nhs-deploy@${stack}/${server}`;
  if (!/^nhs-deploy@[A-Za-z0-9_.-]+\/[a-z][a-z0-9-]*$/.test(m)) throw new Error(`stack ${JSON.stringify(stack)} or server ${JSON.stringify(server)} cannot form a key marker`);
  return m;
}

/**
 * The deploy key's authorized_keys line: `restrict` (no pty, no forwarding of any kind, no
 * ~/.ssh/rc), the dispatcher as forced command, and `from=` when the stack sets deployFrom.
 * dispatch.sh's `authorize` writes the same line for a rotated key.
 */
export function authorizedKeyLine(publicKey: string, from: readonly string[] = []): string {
  const [type, blob, marker] = publicKey.trim().split(/\s+/);
  if (type !== KEY_TYPE || !blob || !marker || !/^[A-Za-z0-9@_./-]+$/.test(marker)) {
    throw new Error(`deploy key must be "ssh-ed25519 <base64> <marker>", got ${JSON.stringify(publicKey)}`);
  }
  const cidrs = from.join(",");
  const command = `${DISPATCHER} --key ${marker}${cidrs ? ` --from ${cidrs}` : ""}`;
  return `restrict,command="${command}"${cidrs ? `,from="${cidrs}"` : ""} ${type} ${blob} ${marker}`;
}

/** Decodes an "ssh-ed25519 AAAA..." line and checks its blob; returns a reason when it is not one. */
export function ed25519KeyProblem(line: string): string | undefined {
  const parts = line.trim().split(/\s+/);
  if (parts[0] !== KEY_TYPE) return `must start with "${KEY_TYPE}"`;
  if (parts.length < 2 || !/^[A-Za-z0-9+/]+={0,2}$/.test(parts[1])) return "has no base64 key after the key type";
  const blob = Buffer.from(parts[1], "base64");
  const expected = Buffer.concat([sshString(KEY_TYPE), uint32(32)]);
  if (blob.length !== 51 || !blob.subarray(0, 19).equals(expected)) {
    return "is not a valid ed25519 public key (its base64 does not decode to a 32-byte ed25519 key)";
  }
  return undefined;
}
