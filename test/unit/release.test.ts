import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collectRelease, packRelease } from "../../components/lib/release";
import { crc32, gzipStored, ustar } from "../../components/lib/tarball";

let root: string;
const deploy = { user: "deploy", authorizedKey: "no-port-forwarding ssh-ed25519 AAAA nhs-deploy@a" };

function write(rel: string, content: string, mode = 0o644) {
  const abs = path.join(root, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content);
  fs.chmodSync(abs, mode);
}

function hashFor(server: string, d = deploy): string {
  return packRelease(collectRelease({ root, server, deploy: d })).hash;
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-release-"));
  write("flake.nix", "{ outputs = _: { }; }\n");
  write("flake.lock", "{}\n");
  write("nixos/default.nix", "{ }\n");
  write("nixos/services/web.nix", "{ }\n");
  write("nixos/hosts/alpha/default.nix", "{ alpha = 1; }\n");
  write("nixos/hosts/beta/default.nix", "{ beta = 1; }\n");
  write("nixos/generated/deploy.json", "stale local file\n");
  write("components/host/receive.sh", "#!/bin/sh\necho receive\n", 0o755);
  write("components/host/README.md", "not shipped\n");
  write("README.md", "not shipped\n");
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe("collectRelease", () => {
  it("ships the flake, shared modules, only this host, generated deploy.json and .nhs scripts", () => {
    const paths = collectRelease({ root, server: "alpha", deploy }).map((e) => e.path);
    expect(paths).toEqual([
      "flake.nix",
      "flake.lock",
      "nixos",
      "nixos/default.nix",
      "nixos/hosts",
      "nixos/hosts/alpha",
      "nixos/hosts/alpha/default.nix",
      "nixos/services",
      "nixos/services/web.nix",
      "nixos/generated",
      "nixos/generated/deploy.json",
      ".nhs",
      ".nhs/receive.sh",
    ]);
    const json = collectRelease({ root, server: "alpha", deploy }).find((e) => e.path === "nixos/generated/deploy.json")!;
    expect(JSON.parse(json.content!.toString())).toEqual(deploy);
  });

  it("refuses symlinks", () => {
    fs.symlinkSync("/etc/passwd", path.join(root, "nixos/link"));
    expect(() => collectRelease({ root, server: "alpha", deploy })).toThrow("nixos/link is a symlink");
  });
});

describe("content hash", () => {
  it("is stable for an unchanged tree", () => {
    expect(hashFor("alpha")).toBe(hashFor("alpha"));
  });

  it("changes exactly when a synced file changes", () => {
    const before = { alpha: hashFor("alpha"), beta: hashFor("beta") };
    write("nixos/hosts/beta/default.nix", "{ beta = 2; }\n");
    expect(hashFor("alpha")).toBe(before.alpha); // another host's file
    expect(hashFor("beta")).not.toBe(before.beta);
    write("README.md", "edited\n");
    write("nixos/generated/deploy.json", "edited stale file\n");
    expect(hashFor("alpha")).toBe(before.alpha); // files outside the release
    write("nixos/services/web.nix", "{ changed = true; }\n");
    expect(hashFor("alpha")).not.toBe(before.alpha); // shared module
  });

  it("changes with the deploy key, a host script, a file mode and a deleted file", () => {
    let h = hashFor("alpha");
    const next = () => {
      const n = hashFor("alpha");
      expect(n).not.toBe(h);
      h = n;
    };
    expect(hashFor("alpha", { ...deploy, authorizedKey: "other" })).not.toBe(h);
    write("components/host/receive.sh", "#!/bin/sh\necho v2\n", 0o755);
    next();
    fs.chmodSync(path.join(root, "nixos/default.nix"), 0o755);
    next();
    fs.rmSync(path.join(root, "nixos/services/web.nix"));
    next();
  });
});

describe("archive format", () => {
  it("is a gzip'd ustar that GNU tar lists and extracts with fixed owner, mode and mtime", () => {
    const { tarball } = packRelease(collectRelease({ root, server: "alpha", deploy }));
    const out = path.join(root, "out");
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(root, "r.tar.gz"), tarball);
    const listing = execFileSync("tar", ["-tvzf", path.join(root, "r.tar.gz"), "--numeric-owner"], { encoding: "utf8" });
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0 +23 1970-01-01 00:00 \.nhs\/receive\.sh$/m);
    expect(listing).toMatch(/^-rw-r--r-- 0\/0 .* nixos\/hosts\/alpha\/default\.nix$/m);
    execFileSync("tar", ["-xzf", path.join(root, "r.tar.gz"), "-C", out]);
    expect(fs.readFileSync(path.join(out, "nixos/hosts/alpha/default.nix"), "utf8")).toBe("{ alpha = 1; }\n");
    expect(fs.existsSync(path.join(out, "nixos/hosts/beta"))).toBe(false);
    // The sync bootstrap extracts this single member first.
    const single = path.join(root, "single");
    fs.mkdirSync(single);
    execFileSync("tar", ["-xzf", path.join(root, "r.tar.gz"), "-C", single, ".nhs/receive.sh"]);
    expect(fs.statSync(path.join(single, ".nhs/receive.sh")).mode & 0o777).toBe(0o755);
  });

  it("handles long paths through the ustar prefix and large files across stored blocks", () => {
    const long = `${"d".repeat(90)}/${"e".repeat(90)}/file.txt`;
    const big = Buffer.alloc(200_000, 7);
    const tgz = gzipStored(ustar([{ path: long, content: Buffer.from("x") }, { path: "big.bin", content: big }]));
    fs.writeFileSync(path.join(root, "l.tar.gz"), tgz);
    expect(execFileSync("tar", ["-tzf", path.join(root, "l.tar.gz")], { encoding: "utf8" }).split("\n")).toContain(long);
    expect(execFileSync("gzip", ["-t", path.join(root, "l.tar.gz")]).length).toBe(0);
  });

  it("rejects unsafe and duplicate paths", () => {
    expect(() => ustar([{ path: "../x", content: Buffer.from("") }])).toThrow("unsafe archive path");
    expect(() => ustar([{ path: "/etc/x", content: Buffer.from("") }])).toThrow("unsafe archive path");
    expect(() => ustar([{ path: "a", content: Buffer.from("") }, { path: "a", content: Buffer.from("") }])).toThrow("duplicate archive path: a");
  });

  it("computes the standard CRC-32", () => {
    expect(crc32(Buffer.from("123456789")).toString(16)).toBe("cbf43926");
  });
});
