import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { authorizedKeyLine, deployKeyMarker, ed25519KeyProblem, openSshKeyPairFromSeed } from "../../components/lib/sshKey";
import { seedRotations } from "../../components/deployKey";

const seed = Buffer.from("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "hex");

describe("openSshKeyPairFromSeed", () => {
  it("is accepted by ssh-keygen, which derives the same public key", () => {
    const pair = openSshKeyPairFromSeed(seed, "nhs-deploy@nixos-prod");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-key-"));
    try {
      const file = path.join(dir, "id_ed25519");
      fs.writeFileSync(file, pair.privateKey, { mode: 0o600 });
      const derived = execFileSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" }).trim();
      expect(derived).toBe(pair.publicKey);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is deterministic for a seed and different for another seed", () => {
    const a = openSshKeyPairFromSeed(seed, "c");
    expect(openSshKeyPairFromSeed(Buffer.from(seed), "c")).toEqual(a);
    const other = Buffer.from(seed);
    other[0] ^= 1;
    const b = openSshKeyPairFromSeed(other, "c");
    expect(b.privateKey).not.toBe(a.privateKey);
    expect(b.publicKey).not.toBe(a.publicKey);
  });

  it("matches the RFC 8032 test vector 1 public key", () => {
    const rfcSeed = Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex");
    const pub = Buffer.from(openSshKeyPairFromSeed(rfcSeed, "").publicKey.split(" ")[1], "base64").subarray(19);
    expect(pub.toString("hex")).toBe("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  });

  it("rejects a short seed and a multi-line comment", () => {
    expect(() => openSshKeyPairFromSeed(Buffer.alloc(31), "c")).toThrow("ed25519 seed must be 32 bytes, got 31");
    expect(() => openSshKeyPairFromSeed(seed, "a\nb")).toThrow("key comment must be a single line");
  });

  it("renders the restricted authorized_keys line: restrict, the dispatcher as forced command, from= when given", () => {
    const m = deployKeyMarker("prod.eu", "nixos-prod");
    expect(m).toBe("nhs-deploy@prod.eu/nixos-prod");
    expect(authorizedKeyLine(`ssh-ed25519 AAAA ${m}`)).toBe(`restrict,command="/var/lib/nixos-home-server/dispatch --key ${m}" ssh-ed25519 AAAA ${m}`);
    expect(authorizedKeyLine(`ssh-ed25519 AAAA ${m}`, ["10.0.0.0/8", "fd00::/8"])).toBe(
      `restrict,command="/var/lib/nixos-home-server/dispatch --key ${m} --from 10.0.0.0/8,fd00::/8",from="10.0.0.0/8,fd00::/8" ssh-ed25519 AAAA ${m}`,
    );
    expect(() => authorizedKeyLine('ssh-ed25519 AAAA x"y')).toThrow("deploy key must be");
    expect(() => deployKeyMarker("a b", "x")).toThrow("cannot form a key marker");
  });

  it("keeps the current key's seed when the rotation is bumped (odd and even seeds)", () => {
    expect(seedRotations(1)).toEqual({ odd: 1, even: 0 });
    expect(seedRotations(2)).toEqual({ odd: 1, even: 2 });
    expect(seedRotations(3)).toEqual({ odd: 3, even: 2 });
  });

  it("checks host key lines", () => {
    expect(ed25519KeyProblem(openSshKeyPairFromSeed(seed, "").publicKey)).toBeUndefined();
    expect(ed25519KeyProblem("ssh-ed25519")).toBe("has no base64 key after the key type");
    expect(ed25519KeyProblem("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==")).toMatch(/not a valid ed25519 public key/);
  });
});
