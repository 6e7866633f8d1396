// Every simulated fault, over real SSH: the host must end on a healthy generation
// with no watchdog armed, and the scripts must say what happened.
import { describe, it, expect, beforeAll, afterAll, afterEach } from "vitest";
import * as fs from "node:fs";
import { startHosts, SimHost } from "../harness/hosts";
import { BASE } from "../harness/release";
import { newRelease, deployArgs, verifyArgs, run, expectHealthy, expectNoWatchdog, waitFor, waitWatchdogGone } from "./helpers";

let host: SimHost;
beforeAll(async () => {
  [host] = await startHosts(1);
});
afterAll(async () => {
  await host?.stop();
});
// One failing test must not leave the next one an unconfirmed deploy or a fault.
afterEach(async () => {
  for (const k of ["activation-fails", "unit-fails", "disk-full", "sudo-missing", "host-down"] as const) await host.clearFault(k);
  await host.run(`test -e ${BASE}/state/pending && sh ${BASE}/current/.nhs/rollback.sh >/dev/null 2>&1; true`);
});

const pendingGone = async () => (await host.run(`test -e ${BASE}/state/pending`)).code !== 0;

describe("faults", () => {
  it("activation fails after the profile moved: rolled back at once, exit 1", async () => {
    const h = await newRelease(host);
    const g0 = await host.generation();
    const s0 = await host.currentSystem();
    // Through the control file: the next build carries the fault.
    await host.setFault({ kind: "activation-fails" });
    const d = await run(host, h, "deploy.sh", deployArgs(host, h));
    await host.clearFault("activation-fails");
    expect(d.code, d.stderr).toBe(1);
    expect(d.res).toMatchObject({ status: "rolled-back", previous: String(g0), generation: String(g0), failed: "activation" });
    expect(d.res.report).toMatch(new RegExp(`^activation of generation ${g0 + 1} failed \\(exit 4\\); rolled back from generation ${g0 + 1} to ${g0}; log: .*activation of .* failed`));
    expect(await host.generation()).toBe(g0);
    expect(await host.currentSystem()).toBe(s0);
    await expectHealthy(host);
  });

  it("a unit fails after the switch: verify rolls back and names it", async () => {
    const h = await newRelease(host);
    const g0 = await host.generation();
    await host.setFault({ kind: "unit-fails", unit: "nginx.service" });
    const d = await run(host, h, "deploy.sh", deployArgs(host, h));
    await host.clearFault("unit-fails");
    expect(d.code, d.stderr).toBe(0);
    const g1 = Number(d.res.generation); // the failed generation of the last test still exists
    expect(g1).toBeGreaterThan(g0);
    const v = await run(host, h, "verify.sh", verifyArgs(host));
    expect(v.code, v.stderr).toBe(1);
    expect(v.res).toMatchObject({ status: "rolled-back", generation: String(g0), failed: "nginx.service,http://localhost/,failed-units,journal" });
    expect(v.res.report).toMatch(new RegExp(`^nginx.service failed; http://localhost/ returned 000, want 200; failed units: nginx.service; journal errors since the switch: .*; rolled back from generation ${g1} to ${g0}; all checks pass on ${g0}$`));
    expect(await host.generation()).toBe(g0);
    await expectHealthy(host);
  });

  it("the new generation breaks SSH: the watchdog rolls back on its own", async () => {
    // Through the release itself: this configuration locks SSH out.
    const h = await newRelease(host, ["breaks-ssh"]);
    const g0 = await host.generation();
    const d = await run(host, h, "deploy.sh", deployArgs(host, h, "switch", 4));
    expect(d.code, d.stderr).toBe(0); // the session that ran the switch survives
    const g1 = Number(d.res.generation);
    expect((await host.ssh("true")).code).toBe(255); // nobody gets in any more
    const t0 = Date.now();
    // Nothing from the deployer from here on.
    await waitFor("the watchdog rollback", async () => (await host.generation()) === g0 && (await pendingGone()), 20_000);
    expect(Date.now() - t0).toBeLessThan(15_000);
    await waitWatchdogGone(host);
    await expectHealthy(host);
    const last = await host.mustRun(`cat ${BASE}/state/last-result`);
    expect(last).toMatch(new RegExp(`status=rolled-back trigger=watchdog previous=${g1} generation=${g0} report=generation ${g1} not confirmed within 4s; watchdog rolled back from generation ${g1} to ${g0}`));
    // A late verify (e.g. the deployer reconnects) learns what happened.
    const v = await run(host, h, "verify.sh", verifyArgs(host));
    expect(v.code).toBe(1);
    expect(v.res).toMatchObject({ status: "rolled-back", generation: String(g0), failed: "not-confirmed" });
  });

  it("SSH drops mid-activation: activation completes, then the watchdog rolls back", async () => {
    const h = await newRelease(host, ["slow-activation:4"]);
    const g0 = await host.generation();
    const before = (await host.run("ls /nix/var/nix/profiles")).stdout;
    const d = await run(host, h, "deploy.sh", deployArgs(host, h, "switch", 3), 2_500); // ssh killed at 2.5 s
    expect(d.code).not.toBe(0);
    expect(d.stdout).not.toContain("nhs-result");
    // The activation was detached: it finishes and creates generation g0+1 ...
    await waitFor("the new generation", async () => (await host.run("ls /nix/var/nix/profiles")).stdout !== before, 15_000);
    // ... and with nobody to confirm it, the host goes back by itself.
    await waitFor("the watchdog rollback", async () => (await host.generation()) === g0 && (await pendingGone()), 30_000);
    await waitWatchdogGone(host);
    await expectHealthy(host);
    expect(await host.mustRun(`cat ${BASE}/state/last-result`)).toMatch(/trigger=watchdog/);
  });

  it("slow activation longer than the confirm timeout: the watchdog waits for it, the window restarts after", async () => {
    const h = await newRelease(host, ["slow-activation:4"]);
    const g0 = await host.generation();
    const d = await run(host, h, "deploy.sh", deployArgs(host, h, "switch", 2));
    // The first timer fired mid-activation; its rollback waited and was replaced.
    expect(d.code, d.stderr).toBe(0);
    const g1 = Number(d.res.generation);
    expect(g1).toBeGreaterThan(g0);
    expect(Number(d.res.duration)).toBeGreaterThanOrEqual(4);
    expect(await host.generation()).toBe(g1);
    // Nobody confirms: the re-armed window (2 s after activation) rolls back.
    await waitFor("the watchdog rollback", async () => (await host.generation()) === g0 && (await pendingGone()), 20_000);
    expect(await host.mustRun(`cat ${BASE}/state/last-result`)).toMatch(new RegExp(`trigger=watchdog previous=${g1} generation=${g0}`));
    await waitWatchdogGone(host);
    await expectHealthy(host);
  });

  it("two concurrent deploys never interleave: the second is refused with exit 3", async () => {
    const h1 = await newRelease(host, ["slow-activation:3"]);
    const h2 = await newRelease(host);
    const g0 = await host.generation();
    const first = run(host, h1, "deploy.sh", deployArgs(host, h1, "switch", 30));
    await waitFor("the first deploy to take the lock", async () => (await host.run(`test -d ${BASE}/state/lock`)).code === 0, 10_000);
    const second = await run(host, h2, "deploy.sh", deployArgs(host, h2, "switch", 30));
    expect(second.code).toBe(3);
    expect(second.res.status).toBe("precondition-failed");
    expect(second.res.report).toMatch(/^deploy lock held by deploy pid \d+ since \d+; another deploy is running$/);
    const a = await first;
    expect(a.code, a.stderr).toBe(0);
    expect(Number(a.res.generation)).toBeGreaterThan(g0);
    // While that generation is unconfirmed, another deploy is refused too.
    const third = await run(host, h2, "deploy.sh", deployArgs(host, h2));
    expect(third.code).toBe(3);
    expect(third.res.report).toMatch(/is not confirmed yet and its watchdog is armed/);
    expect((await run(host, h1, "verify.sh", verifyArgs(host))).code).toBe(0);
    // The refused deploys never got as far as activating anything.
    const log = await host.mustRun(`cat ${BASE}/state/deploy.log`);
    expect(log).toContain(h1);
    expect(log).not.toContain(h2);
    await expectHealthy(host);
  });

  it("a stale lock from a dead run is reported and taken over", async () => {
    await host.mustRun(`mkdir -p ${BASE}/state/lock && printf 'pid=999999\\nstart=1\\nby=deploy\\nsince=1\\n' >${BASE}/state/lock/owner`);
    const h = await newRelease(host);
    const st = await run(host, h, "status.sh");
    expect(st.res.lock).toBe("stale:999999");
    const d = await run(host, h, "deploy.sh", deployArgs(host, h));
    expect(d.code, d.stderr).toBe(0);
    expect(d.res.warning).toBe("stale-lock-from-pid-999999");
    expect(d.stderr).toContain("stale lock from deploy pid 999999 (process is gone); taking it over");
    expect((await run(host, h, "verify.sh", verifyArgs(host))).code).toBe(0);
    await expectHealthy(host);
  });

  it("disk full: refused before anything changes, exit 3", async () => {
    const h = await newRelease(host);
    const g0 = await host.generation();
    await host.setFault({ kind: "disk-full" });
    try {
      const d = await run(host, h, "deploy.sh", deployArgs(host, h));
      expect(d.code).toBe(3);
      expect(d.res.report).toMatch(/^disk full: \d MB free on \/nix\/store, need at least 20 MB$/);
      expect(await host.generation()).toBe(g0);
      await expectNoWatchdog(host);
    } finally {
      await host.clearFault("disk-full");
    }
    await expectHealthy(host);
  });

  it("sudo rule missing: sudo refuses, nothing runs", async () => {
    const h = await newRelease(host);
    const g0 = await host.generation();
    await host.setFault({ kind: "sudo-missing" });
    try {
      const d = await run(host, h, "deploy.sh", deployArgs(host, h));
      expect(d.code).toBe(1);
      expect(d.stderr).toContain("sudo: a password is required");
      expect(d.stdout).toBe("");
      expect(await host.generation()).toBe(g0);
    } finally {
      await host.clearFault("sudo-missing");
    }
    await expectHealthy(host);
  });

  it("host down: the connection fails (255) and the host is untouched", async () => {
    const g0 = await host.generation();
    const n0 = await host.commandCount();
    await host.setFault({ kind: "host-down" });
    try {
      const r = await host.ssh("true");
      expect(r.code).toBe(255);
      expect(r.stderr).toMatch(/timed out|No route|unreachable/i);
    } finally {
      await host.clearFault("host-down");
    }
    expect(await host.commandCount()).toBe(n0);
    expect(await host.generation()).toBe(g0);
    await expectHealthy(host);
  });

  it("host key changed: the pinned key refuses the host before any command runs", async () => {
    const n0 = await host.commandCount();
    const pinned = host.hostKeyLine;
    await host.setFault({ kind: "host-key-changed" });
    const r = await host.ssh("true");
    expect(r.code).toBe(255);
    expect(r.stderr).toContain("Host key verification failed");
    expect(await host.commandCount()).toBe(n0);
    const fresh = await host.liveHostKeyLine();
    expect(fresh).not.toBe(pinned);
    // re-pinning the new key (what a user does after checking it) lets us in again
    fs.writeFileSync(host.knownHostsPath, `${host.address} ${fresh}\n`);
    expect((await host.ssh("echo in")).stdout.trim()).toBe("in");
    expect(await host.commandCount()).toBe(n0 + 1);
  });
});
