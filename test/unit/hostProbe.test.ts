// HostProbe's pure parts: the deploy key kept as its seed, the ssh invocation, host key pinning, and reading status.sh.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { isDrifted, openSshKey, parseObservation, provider, sshCall } from "../../components/hostProbe";
import { openSshKeyPairFromSeed } from "../../components/lib/sshKey";

describe("HostProbe", () => {
  const seed = Buffer.from("d1b0a2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192", "hex");
  const pair = openSshKeyPairFromSeed(seed, "nhs-deploy@prod/nixos-prod");
  const target = { host: "10.0.0.2", port: 2222, user: "deploy", hostKey: " ssh-ed25519 AAAAC3 root@h ", privateKey: seed.toString("base64") };

  it("keeps only the deploy key's seed, and rebuilds a key OpenSSH signs with", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-probe-test-"));
    try {
      const key = path.join(dir, "key");
      fs.writeFileSync(key, openSshKey(seed.toString("base64")), { mode: 0o600 });
      // The real ssh-keygen reads it, finds DeployKey's public key, and its signature verifies against that key.
      expect(execFileSync("ssh-keygen", ["-y", "-f", key]).toString().trim()).toBe(pair.publicKey.split(" ").slice(0, 2).join(" "));
      fs.writeFileSync(path.join(dir, "data"), "probe");
      execFileSync("ssh-keygen", ["-q", "-Y", "sign", "-f", key, "-n", "file", path.join(dir, "data")]);
      fs.writeFileSync(path.join(dir, "signers"), `probe ${pair.publicKey}\n`);
      execFileSync("ssh-keygen", ["-q", "-Y", "verify", "-f", path.join(dir, "signers"), "-I", "probe", "-n", "file", "-s", path.join(dir, "data.sig")], { input: "probe" });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("pins the host key, asks the dispatcher for the status, and never falls back to a password or an agent", () => {
    const { args } = sshCall(target, "/t");
    expect(args).toEqual(expect.arrayContaining(["StrictHostKeyChecking=yes", "UserKnownHostsFile=/t/known_hosts", "BatchMode=yes", "IdentityAgent=none", "IdentitiesOnly=yes"]));
    expect(args[args.indexOf("StrictHostKeyChecking=yes") - 1]).toBe("-o");
    expect(args[args.indexOf("-i") + 1]).toBe("/t/key");
    expect(args[args.indexOf("-p") + 1]).toBe("2222");
    expect(args[args.indexOf("-l") + 1]).toBe("deploy");
    // The same line for every user: the dispatcher takes sudo itself.
    expect(args.slice(-3)).toEqual(["--", "10.0.0.2", "/var/lib/nixos-home-server/dispatch status"]);
  });

  it("writes the key and a known_hosts line, with OpenSSH's bracket form for other ports", () => {
    expect(sshCall(target, "/t").files).toEqual([
      ["/t/key", openSshKey(target.privateKey)],
      ["/t/known_hosts", "[10.0.0.2]:2222 ssh-ed25519 AAAAC3\n"],
    ]);
    expect(sshCall({ ...target, host: "h.home.arpa", port: 22 }, "/t").files[1]).toEqual(["/t/known_hosts", "h.home.arpa ssh-ed25519 AAAAC3\n"]);
  });

  it("reads the running and the last-deployed system, and names a missing key", () => {
    const line = "noise\nnhs-result status=ok current=43 store=/nix/store/b-sys deployed=/nix/store/a-sys report=all fine\n";
    const o = parseObservation("nixos-prod", line);
    expect(o).toEqual({ system: "/nix/store/b-sys", deployed: "/nix/store/a-sys" });
    expect(isDrifted(o)).toBe(true);
    expect(() => parseObservation("nixos-prod", "nhs-result status=ok store=/x")).toThrow('status.sh on server "nixos-prod": result line has no "deployed" key');
    expect(() => parseObservation("nixos-prod", "")).toThrow('status.sh on server "nixos-prod" printed no "nhs-result" line');
    expect(() => parseObservation("nixos-prod", `${line}${line}`)).toThrow('status.sh on server "nixos-prod" printed 2 "nhs-result" lines');
    // An empty value is a value (status.sh prints `store=` when it cannot read the running system).
    expect(parseObservation("nixos-prod", "nhs-result store= deployed=/nix/store/a-sys")).toEqual({ system: "", deployed: "/nix/store/a-sys" });
  });

  it("never lets words of the free-text report overwrite store or deployed", () => {
    const line = "nhs-result status=ok store=/nix/store/b-sys deployed=/nix/store/a-sys report=manual switch store=/nix/store/evil deployed=none\n";
    expect(parseObservation("nixos-prod", line)).toEqual({ system: "/nix/store/b-sys", deployed: "/nix/store/a-sys" });
    // A report before the keys would hide them: the key is then missing, not taken from the text.
    expect(() => parseObservation("nixos-prod", "nhs-result status=ok report=store=/x deployed=/y")).toThrow('has no "store" key');
  });

  it("sees no drift on a host this tool never deployed, nor on one running what it deployed", () => {
    expect(isDrifted({ system: "/nix/store/a", deployed: "/nix/store/a" })).toBe(false);
    expect(isDrifted({ system: "/nix/store/a", deployed: "none" })).toBe(false);
  });
});

describe("HostProbe's serialized provider (the text kept in state, run as the plugin runs it)", () => {
  const seed = Buffer.alloc(32, 3).toString("base64");
  const target = { name: "t1", host: "127.0.0.1", port: 1, user: "nobody", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs", privateKey: seed };
  const load = async () => {
    const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    const module = { exports: {} as { handler?: () => pulumi.dynamic.ResourceProvider } };
    new Function("exports", "require", "module", sf.text)(module.exports, require, module);
    return { text: sf.text, p: module.exports.handler!() };
  };

  it("stays small and captures no module", async () => {
    const { text } = await load();
    // 7.8 KB when it captured lib/result and kept comments; now 5.9 KB as ts-node emits it, 6.1 KB through vitest's transform.
    expect(text.length).toBeLessThan(6500);
    expect(text).not.toMatch(/parseResultLine|_\d+ = require|\/\/ /);
  });

  it("creates without reading, replaces on drift or a new host, updates on a new key only", async () => {
    const { p } = await load();
    const { outs } = await p.create(target);
    expect(outs).toEqual({ ...target, observed: null, drifted: false });
    expect(await p.diff!("id", outs, target)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    expect((await p.diff!("id", { ...outs, drifted: true }, target)).replaces).toEqual(["observed"]);
    expect((await p.diff!("id", outs, { ...target, port: 2222, hostKey: "ssh-ed25519 AAAAC3" })).replaces).toEqual(["port", "hostKey"]);
    const rotated = { ...target, privateKey: Buffer.alloc(32, 4).toString("base64") };
    expect(await p.diff!("id", outs, rotated)).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect((await p.update!("id", outs, rotated)).outs).toEqual({ ...outs, privateKey: rotated.privateKey });
  });

  it("names the server and the address when ssh fails, and never the key", async () => {
    const { p } = await load();
    // Port 1 on loopback: nothing listens, so ssh fails fast.
    const err = await p.read!("id", { ...target, observed: null, drifted: false }).then(() => undefined, (e: Error) => e);
    expect(String(err)).toMatch(/^Error: server "t1": could not read its status over SSH \(nobody@127\.0\.0\.1:1\): .*(refused|port 1)/);
    expect(String(err)).not.toContain(seed);
    expect(String(err)).not.toContain(openSshKey(seed).split("\n")[1].slice(0, 40));
  });
});
