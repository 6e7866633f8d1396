import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as zlib from "zlib";
import { collectRelease, packRelease, readSourceTree, ReleaseError } from "../../components/lib/release";
import { crc32, gzipDeterministic, tarArchive } from "../../components/lib/tarball";

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
    expect(paths.sort()).toEqual([
      ".nhs",
      ".nhs/receive.sh",
      "flake.lock",
      "flake.nix",
      "nixos",
      "nixos/default.nix",
      "nixos/generated",
      "nixos/generated/deploy.json",
      "nixos/hosts",
      "nixos/hosts/alpha",
      "nixos/hosts/alpha/default.nix",
      "nixos/services",
      "nixos/services/web.nix",
    ]);
    const json = collectRelease({ root, server: "alpha", deploy }).find((e) => e.path === "nixos/generated/deploy.json")!;
    expect(JSON.parse(json.content!.toString())).toEqual(deploy);
  });

  it("carries relative symlinks inside the tree", () => {
    fs.symlinkSync("../default.nix", path.join(root, "nixos/services/shared.nix"));
    const link = collectRelease({ root, server: "alpha", deploy }).find((e) => e.path === "nixos/services/shared.nix")!;
    expect(link.linkTarget).toBe("../default.nix");
  });

  it("names every path it cannot carry, at once and fast", () => {
    fs.symlinkSync("/etc/passwd", path.join(root, "nixos/abs"));
    fs.symlinkSync("../../README.md", path.join(root, "nixos/services/out"));
    execFileSync("mkfifo", [path.join(root, "nixos/hosts/alpha/fifo")]);
    for (let i = 0; i < 1000; i++) write(`nixos/many/f${i}.nix`, `${i}\n`);
    const started = Date.now();
    let err: unknown;
    try {
      readSourceTree(root);
    } catch (e) {
      err = e;
    }
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err).toBeInstanceOf(ReleaseError);
    const msg = (err as Error).message;
    expect(msg).toContain("3 path(s) a release cannot carry");
    expect(msg).toContain('nixos/abs: symlink to "/etc/passwd" is absolute');
    expect(msg).toContain('nixos/services/out: symlink to "../../README.md" points outside flake.nix, flake.lock and nixos/');
    expect(msg).toContain("nixos/hosts/alpha/fifo: not a regular file, directory or symlink");
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

  it("handles long names (pax), long link targets and large files; GNU tar extracts them", () => {
    const long = `${"d".repeat(90)}/${"e".repeat(90)}/file.txt`;
    const longName = `nixos/${"n".repeat(180)}.nix`;
    const deep = `${"x/".repeat(120)}deep.nix`;
    const target = `${"../".repeat(40)}nixos/a.nix`;
    const big = Buffer.alloc(200_000, 7);
    const tgz = gzipDeterministic(tarArchive([
      { path: long, content: Buffer.from("x") },
      { path: longName, content: Buffer.from("long\n") },
      { path: deep, content: Buffer.from("deep\n") },
      { path: `${"x/".repeat(40)}link`, linkTarget: target },
      { path: "big.bin", content: big },
    ]));
    fs.writeFileSync(path.join(root, "l.tar.gz"), tgz);
    const listing = execFileSync("tar", ["-tzf", path.join(root, "l.tar.gz")], { encoding: "utf8" }).split("\n");
    expect(listing).toEqual(expect.arrayContaining([long, longName, deep]));
    const out = path.join(root, "lx");
    fs.mkdirSync(out);
    execFileSync("tar", ["-xzf", path.join(root, "l.tar.gz"), "-C", out]);
    expect(fs.readFileSync(path.join(out, longName), "utf8")).toBe("long\n");
    expect(fs.readFileSync(path.join(out, deep), "utf8")).toBe("deep\n");
    expect(fs.readlinkSync(path.join(out, `${"x/".repeat(40)}link`))).toBe(target);
    expect(fs.readFileSync(path.join(out, "big.bin")).equals(big)).toBe(true);
  });

  it("compresses for real, and gunzip gives back the exact bytes", () => {
    const tar = tarArchive(collectRelease({ root: path.join(__dirname, "..", ".."), server: "none", deploy }));
    const tgz = gzipDeterministic(tar);
    expect(zlib.gunzipSync(tgz).equals(tar)).toBe(true);
    expect(tgz.length).toBeLessThan(tar.length / 3);
    const random = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 251));
    expect(zlib.gunzipSync(gzipDeterministic(random)).equals(random)).toBe(true);
    expect(gzipDeterministic(Buffer.alloc(0)).length).toBe(20);
  });

  it("rejects unsafe and duplicate paths", () => {
    expect(() => tarArchive([{ path: "../x", content: Buffer.from("") }])).toThrow("unsafe archive path");
    expect(() => tarArchive([{ path: "/etc/x", content: Buffer.from("") }])).toThrow("unsafe archive path");
    expect(() => tarArchive([{ path: "a", content: Buffer.from("") }, { path: "a", content: Buffer.from("") }])).toThrow("duplicate archive path: a");
  });

  it("computes the standard CRC-32", () => {
    expect(crc32(Buffer.from("123456789")).toString(16)).toBe("cbf43926");
  });
});
