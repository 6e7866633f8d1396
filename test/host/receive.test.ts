// receive.sh over real SSH: atomic swap, idempotent re-sync, pruning, bad hash.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { startHosts, SimHost } from "../harness/hosts";
import { BASE, makeRelease, packRelease, syncRelease, parseResult, uploadRelease } from "../harness/release";
import { renderSyncBootstrap } from "../../components/lib/remoteCommand";

let host: SimHost;
beforeAll(async () => {
  [host] = await startHosts(1);
});
afterAll(async () => {
  await host?.stop();
});

const rel = (n: number, extra: Record<string, string> = {}) =>
  makeRelease({ hosts: { [host.name]: {} }, files: { "nixos/rev.nix": `${n}\n`, ...extra } });
const link = async (l: string) => (await host.mustRun(`readlink ${BASE}/${l} || true`)).trim();
const releases = async () => (await host.mustRun(`ls -1 ${BASE}/releases`)).split("\n").filter(Boolean).sort();

describe("receive.sh", () => {
  let a: string;
  let b: string;

  it("unpacks a release and points current at it", async () => {
    const r = await syncRelease(host, rel(1, { "nixos/old-only.nix": "x\n" }));
    expect(r.code, r.stderr).toBe(0);
    a = r.hash;
    expect(parseResult(r.stdout)).toEqual({ status: "ok", release: `${BASE}/releases/${a}`, hash: a });
    expect(await link("current")).toBe(`releases/${a}`);
    expect(await link("previous")).toBe("");
    expect((await host.run(`test -f ${BASE}/current/nixos/old-only.nix && test -f ${BASE}/current/.nhs/deploy.sh`)).code).toBe(0);
    // the receive temp dir is gone (tmp/ is left empty), no half-unpacked .tmp is left; dispatch is the deploy key's forced command
    expect((await host.mustRun(`ls -1 ${BASE}`)).split("\n").filter(Boolean).sort()).toEqual(["current", "dispatch", "events.jsonl", "metrics", "releases", "state", "tmp"]);
    expect(await host.mustRun(`ls -A ${BASE}/tmp`)).toBe("");
  });

  it("re-syncing the same release is a no-op", async () => {
    const before = await host.mustRun(`stat -c %i ${BASE}/releases/${a}/flake.nix`);
    const r = await syncRelease(host, rel(1, { "nixos/old-only.nix": "x\n" }));
    expect(r.code).toBe(0);
    expect(r.hash).toBe(a); // deterministic packing
    expect(await host.mustRun(`stat -c %i ${BASE}/releases/${a}/flake.nix`)).toBe(before);
    expect(await link("current")).toBe(`releases/${a}`);
    expect(await link("previous")).toBe("");
  });

  it("a new release swaps current and previous; deleted files disappear", async () => {
    const r = await syncRelease(host, rel(2));
    expect(r.code).toBe(0);
    b = r.hash;
    expect(await link("current")).toBe(`releases/${b}`);
    expect(await link("previous")).toBe(`releases/${a}`);
    expect((await host.run(`test -e ${BASE}/current/nixos/old-only.nix`)).code).toBe(1);
    // The bootstrap keeps only this release's upload in the SSH user's home (a rerun still finds it).
    expect((await host.ssh("ls -A")).stdout.split("\n").filter((f) => f.startsWith(".nhs-release-"))).toEqual([`.nhs-release-${b}.tar.gz`]);
  });

  it("prunes beyond keep, never current or previous", async () => {
    const c = (await syncRelease(host, rel(3), 2)).hash;
    const d = (await syncRelease(host, rel(4), 2)).hash;
    expect(await link("current")).toBe(`releases/${d}`);
    expect(await link("previous")).toBe(`releases/${c}`);
    expect(await releases()).toEqual([c, d].sort());
    // keep=1 still keeps previous
    const e = (await syncRelease(host, rel(5), 1)).hash;
    expect(await releases()).toEqual([d, e].sort());
  });

  it("rejects a tarball whose hash does not match, changing nothing", async () => {
    const cur = await link("current");
    const { tarball } = await packRelease(rel(6));
    const wrong = "0".repeat(64);
    await uploadRelease(host, tarball, wrong);
    const r = await host.ssh(renderSyncBootstrap(wrong, 3));
    expect(r.code).toBe(3);
    const res = parseResult(r.stdout);
    expect(res.status).toBe("precondition-failed");
    expect(res.report).toMatch(/^bad release: sha256 of the received tarball is [0-9a-f]{64}, expected 0{64}/);
    expect(await link("current")).toBe(cur);
    expect((await host.mustRun(`ls -1 ${BASE}`)).split("\n").filter(Boolean).sort()).toEqual(["current", "dispatch", "events.jsonl", "metrics", "previous", "releases", "state", "tmp"]);
    expect(await host.mustRun(`ls -A ${BASE}/tmp`)).toBe("");
  });

  it("rejects bad arguments with exit 2", async () => {
    const r = await host.ssh(`sudo -n sh ${BASE}/current/.nhs/receive.sh /nonexistent notahash 3`);
    expect(r.code).toBe(2);
    expect(parseResult(r.stdout).report).toMatch(/HASH must be a lowercase hex sha256/);
  });
});
