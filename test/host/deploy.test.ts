// deploy/verify/rollback/status/generations over real SSH, the happy paths.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { startHosts, SimHost } from "../harness/hosts";
import { BASE } from "../harness/release";
import { newRelease, deployArgs, verifyArgs, run, expectHealthy, expectNoWatchdog } from "./helpers";

let host: SimHost;
beforeAll(async () => {
  [host] = await startHosts(1);
});
afterAll(async () => {
  await host?.stop();
});

describe("deploy + verify", () => {
  let hash: string;

  it("switches, arms the watchdog, and verify confirms", async () => {
    hash = await newRelease(host);
    const g0 = await host.generation();
    const d = await run(host, hash, "deploy.sh", deployArgs(host, hash, "switch", 30));
    expect(d.code, d.stderr).toBe(0);
    expect(d.res).toMatchObject({ status: "ok", name: host.name, mode: "switch", previous: String(g0), generation: String(g0 + 1), watchdog: "armed" });
    expect(d.res.store).toMatch(/^\/nix\/store\/[0-9a-f]{32}-nixos-system-h\d+-26\.05\.sim$/);
    expect(Number(d.res.duration)).toBeGreaterThanOrEqual(0);
    expect(await host.currentSystem()).toBe(d.res.store);
    expect((await host.run("systemctl is-active nhs-watchdog.timer")).stdout.trim()).toBe("active");

    const st = await run(host, hash, "status.sh");
    expect(st.res).toMatchObject({ status: "ok", current: String(g0 + 1), pending: String(g0 + 1), previous: String(g0), watchdog: "armed", lock: "free" });

    const v = await run(host, hash, "verify.sh", verifyArgs(host));
    expect(v.code, v.stderr).toBe(0);
    expect(v.res).toEqual({
      status: "ok", previous: String(g0), generation: String(g0 + 1), checks: "7", event: "verified",
      durations: expect.stringMatching(/^activate:\d+,verify:\d+,total:\d+$/), commit: "unknown", report: `all 7 checks pass on generation ${g0 + 1}`,
    });
    expect(await host.generation()).toBe(g0 + 1);
    await expectHealthy(host);
    expect((await run(host, hash, "status.sh")).res).toMatchObject({ watchdog: "none", pending: "none", last: "ok" });
  });

  it("the same release again makes no new generation", async () => {
    const g = await host.generation();
    const d = await run(host, hash, "deploy.sh", deployArgs(host, hash));
    expect(d.code, d.stderr).toBe(0);
    expect(d.res).toMatchObject({ previous: String(g), generation: String(g) });
    expect((await run(host, hash, "verify.sh", verifyArgs(host))).code).toBe(0);
  });

  it("dry-activate changes nothing and arms no watchdog", async () => {
    const h = await newRelease(host);
    const g = await host.generation();
    const sys = await host.currentSystem();
    const d = await run(host, h, "deploy.sh", deployArgs(host, h, "dry-activate"));
    expect(d.code, d.stderr).toBe(0);
    expect(d.res).toMatchObject({ status: "ok", mode: "dry-activate", generation: String(g), watchdog: "none" });
    expect(await host.generation()).toBe(g);
    expect(await host.currentSystem()).toBe(sys);
    await expectNoWatchdog(host);
  });

  it("boot mode moves the profile, not the running system", async () => {
    const h = await newRelease(host);
    const g = await host.generation();
    const sys = await host.currentSystem();
    const d = await run(host, h, "deploy.sh", deployArgs(host, h, "boot"));
    expect(d.code, d.stderr).toBe(0);
    expect(d.res).toMatchObject({ mode: "boot", generation: String(g + 1) });
    expect(await host.currentSystem()).toBe(sys);
    expect((await run(host, h, "verify.sh", verifyArgs(host))).code).toBe(0);
    // make the running system current again for the next tests
    const s = await run(host, h, "deploy.sh", deployArgs(host, h, "switch"));
    expect(s.code).toBe(0);
    expect((await run(host, h, "verify.sh", verifyArgs(host))).code).toBe(0);
  });

  it("test mode activates without moving the profile; a failing custom check rolls it back", async () => {
    const h = await newRelease(host);
    const g = await host.generation();
    const sys = await host.currentSystem();
    const d = await run(host, h, "deploy.sh", deployArgs(host, h, "test"));
    expect(d.code, d.stderr).toBe(0);
    expect(d.res).toMatchObject({ mode: "test", previous: String(g), generation: String(g), watchdog: "armed" });
    expect(await host.currentSystem()).toBe(d.res.store);
    expect(d.res.store).not.toBe(sys);
    const v = await run(host, h, "verify.sh", [...verifyArgs(host), "--command", `test "$(readlink /run/current-system)" = ${sys}`]);
    expect(v.code, v.stderr).toBe(1);
    expect(v.res).toMatchObject({ status: "rolled-back", generation: String(g), failed: "command-2" });
    expect(v.res.report).toBe(`command 'test "$(readlink /run/current-system)" = ${sys}' failed (exit 1); rolled back from generation ${g} to ${g}; all checks pass on ${g}`);
    expect(await host.currentSystem()).toBe(sys);
    await expectHealthy(host);
  });

  it("rollback --to N switches to that generation and restarts its units", async () => {
    const h = await newRelease(host);
    expect((await run(host, h, "deploy.sh", deployArgs(host, h))).code).toBe(0);
    expect((await run(host, h, "verify.sh", verifyArgs(host))).code).toBe(0);
    const top = await host.generation();
    const r = await run(host, h, "rollback.sh", ["--to", "2"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.res).toMatchObject({ status: "rolled-back", trigger: "manual", previous: String(top), generation: "2", report: `rolled back from generation ${top} to 2` });
    expect(await host.generation()).toBe(2);
    expect(await host.currentSystem()).toBe((await host.mustRun("readlink /nix/var/nix/profiles/system-2-link")).trim());
    await expectHealthy(host);
    const bad = await run(host, h, "rollback.sh", ["--to", "99"]);
    expect(bad.code).toBe(3);
    expect(bad.res.report).toMatch(/^generation 99 does not exist/);
  });

  it("rollback without --to undoes an unconfirmed deploy and disarms its watchdog", async () => {
    const h = await newRelease(host);
    const g0 = await host.generation();
    const d = await run(host, h, "deploy.sh", deployArgs(host, h));
    expect(d.code, d.stderr).toBe(0);
    const r = await run(host, h, "rollback.sh");
    expect(r.code, r.stderr).toBe(0);
    expect(r.res).toMatchObject({ status: "rolled-back", trigger: "manual", previous: d.res.generation, generation: String(g0) });
    expect(await host.generation()).toBe(g0);
    await expectHealthy(host);
    expect((await run(host, h, "status.sh")).res).toMatchObject({ current: String(g0), pending: "none", watchdog: "none", last: "rolled-back" });
  });

  it("generations --keep N prunes, never the current or booted one", async () => {
    const h = await newRelease(host);
    const before = (await run(host, h, "generations.sh")).res.generations.split(",");
    expect(before.length).toBeGreaterThanOrEqual(4);
    const r = await run(host, h, "generations.sh", ["--keep", "1"]);
    expect(r.code, r.stderr).toBe(0);
    const top = before[before.length - 1];
    // newest (1 kept) + current (2) + booted (1)
    expect(r.res).toMatchObject({ current: "2", booted: "1", generations: ["1", "2", top].join(",") });
    expect((await host.run("ls /nix/var/nix/profiles")).stdout.split("\n").filter(Boolean).sort()).toEqual(
      ["system", "system-1-link", "system-2-link", `system-${top}-link`].sort(),
    );
  });

  it("bad input: usage errors exit 2, a bad release exits 3", async () => {
    const h = await newRelease(host);
    const u = await run(host, h, "deploy.sh", ["--name", host.name, "--release", `${BASE}/releases/${h}`, "--mode", "yolo", "--confirm-timeout", "5"]);
    expect(u.code).toBe(2);
    expect(u.res.report).toBe("--mode must be switch, boot, test or dry-activate, got 'yolo'");
    // The dispatcher refuses some before the script sees them, in the same form.
    const t = await run(host, h, "verify.sh", ["--name", host.name, "--retries", "x", "--interval", "1", "--timeout", "1"]);
    expect(t.code).toBe(2);
    expect(t.res.report).toBe("refused by the deploy key dispatcher: --retries needs a whole number, got 'x'");
    const o = await run(host, h, "deploy.sh", ["--name", host.name, "--release", "/nowhere", "--mode", "switch", "--confirm-timeout", "5"]);
    expect(o.code).toBe(2);
    expect(o.res.report).toBe(`refused by the deploy key dispatcher: deploy: --release must be ${BASE}/releases/${h}`);
    const b = await host.run(`sh ${BASE}/releases/${h}/.nhs/deploy.sh --name ${host.name} --release /nowhere --mode switch --confirm-timeout 5`);
    expect(b.code).toBe(3);
    expect(b.stdout).toContain("report=bad release: /nowhere/flake.nix does not exist");
    const n = await run(host, h, "deploy.sh", deployArgs({ ...host, name: "nosuchhost" } as SimHost, h));
    expect(n.code).toBe(1);
    expect(n.res.status).toBe("rolled-back");
    expect(n.res.report).toMatch(/does not provide attribute 'nixosConfigurations."nosuchhost"/);
    await expectNoWatchdog(host);
  });
});
