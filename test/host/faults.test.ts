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
  for (const k of ["activation-fails", "unit-fails", "disk-full", "sudo-missing", "host-down", "slow-switch"] as const) await host.clearFault(k);
  await host.run(`test -e ${BASE}/state/pending && sh ${BASE}/current/.nhs/rollback.sh >/dev/null 2>&1; true`);
});

const pendingGone = async () => (await host.run(`test -e ${BASE}/state/pending`)).code !== 0;
const pendingId = async () => (await host.mustRun(`sed -n 's/^id=//p' ${BASE}/state/pending`)).trim();
const lastResult = () => host.mustRun(`cat ${BASE}/state/last-result`);

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
    // The link is back; the deployer's side re-learns the neighbour on its own time.
    await waitFor("SSH over the restored link", async () => (await host.ssh("true")).code === 0, 15_000);
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

  // The fault matrix on the NixOS-faithful simulator: each case ends on a known
  // generation with no watchdog left armed.
  it("the watchdog fires in NixOS's clean unit environment and rolls back", async () => {
    const h = await newRelease(host);
    const g0 = await host.generation();
    const d = await run(host, h, "deploy.sh", deployArgs(host, h, "switch", 2));
    expect(d.code, d.stderr).toBe(0);
    const g1 = Number(d.res.generation);
    await waitFor("the watchdog rollback", async () => (await host.generation()) === g0 && (await pendingGone()), 20_000);
    await waitWatchdogGone(host);
    expect(await lastResult()).toMatch(new RegExp(`by=rollback .*status=rolled-back trigger=watchdog previous=${g1} generation=${g0} `));
    // It ran with systemd's own bin/ as PATH plus only the PATH it was given.
    const j = await host.mustRun("grep 'Started nhs-watchdog.service' /var/lib/nhs-sim/journal | tail -n 1");
    expect(j).toMatch(/with PATH=\/nix\/store\/[0-9a-z]{32}-systemd-[^/]+\/bin PATH$/m);
    await expectHealthy(host);
  });

  it("sshd restarts during activation: the deploy's session survives and verify confirms", async () => {
    const h = await newRelease(host, ["restarts-sshd"]);
    const g0 = await host.generation();
    const before = (await host.mustRun("cat /var/lib/nhs-sim/units/sshd.service/pid")).trim();
    const d = await run(host, h, "deploy.sh", deployArgs(host, h));
    expect(d.code, d.stderr).toBe(0);
    const g1 = Number(d.res.generation);
    expect(g1).toBeGreaterThan(g0);
    expect((await host.mustRun("cat /var/lib/nhs-sim/units/sshd.service/pid")).trim()).not.toBe(before);
    const v = await run(host, h, "verify.sh", verifyArgs(host));
    expect(v.code, v.stderr).toBe(0);
    expect(await host.generation()).toBe(g1);
    await expectHealthy(host);
  });

  it("a hung activation is stopped after --activation-timeout and rolled back", async () => {
    const h = await newRelease(host, ["slow-activation:600"]);
    const g0 = await host.generation();
    const s0 = await host.currentSystem();
    const t0 = Date.now();
    const d = await run(host, h, "deploy.sh", [...deployArgs(host, h, "switch", 30), "--activation-timeout", "3"]);
    expect(d.code, d.stderr).toBe(1);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(d.res).toMatchObject({ status: "rolled-back", previous: String(g0), generation: String(g0), failed: "activation-timeout" });
    expect(d.res.report).toMatch(new RegExp(`^activation of generation ${g0 + 1} did not finish within 3s \\(--activation-timeout\\); systemd stopped it; rolled back from generation ${g0 + 1} to ${g0}`));
    expect(await host.generation()).toBe(g0);
    expect(await host.currentSystem()).toBe(s0);
    expect((await host.run("pgrep -f 'slee[p] 600' || echo none")).stdout.trim()).toBe("none");
    await expectHealthy(host);
  });

  it("SSH drops during verify's rollback: the rollback completes and the host ends on the old generation", async () => {
    const h = await newRelease(host, ["unit-fails:nginx.service"]);
    const g0 = await host.generation();
    const s0 = await host.currentSystem();
    const d = await run(host, h, "deploy.sh", deployArgs(host, h, "switch", 12));
    expect(d.code, d.stderr).toBe(0);
    await host.setFault({ kind: "slow-switch", seconds: 4 });
    // verify's checks fail within ~2 s, its rollback then takes 4 s; ssh dies at 3.5 s.
    const v = await run(host, h, "verify.sh", verifyArgs(host), 3_500);
    expect(v.stdout).not.toContain("nhs-result");
    await waitFor("the rollback to the old generation", async () => (await host.currentSystem()) === s0 && (await host.generation()) === g0 && (await pendingGone()), 40_000);
    await waitWatchdogGone(host);
    await host.clearFault("slow-switch");
    expect(await host.generation()).toBe(g0);
    expect(await host.currentSystem()).toBe(s0);
    await expectHealthy(host);
  });

  it("a stale watchdog never acts on a later deploy: deploy, a verify that outlives the window, then at once a new deploy", async () => {
    const h1 = await newRelease(host);
    const h2 = await newRelease(host);
    const d1 = await run(host, h1, "deploy.sh", deployArgs(host, h1, "switch", 5));
    expect(d1.code, d1.stderr).toBe(0);
    const g2 = Number(d1.res.generation);
    const id1 = await pendingId();
    // The watchdog fires at 5 s while verify holds the lock; verify confirms late.
    const slow = [...verifyArgs(host).filter((a, i, all) => !(a === "--timeout" || all[i - 1] === "--timeout")), "--timeout", "12", "--command", "sleep 8"];
    const v = await run(host, h1, "verify.sh", slow);
    expect(v.code, v.stderr).toBe(0);
    expect(v.res).toMatchObject({ status: "ok", generation: String(g2) });
    const d2 = await run(host, h2, "deploy.sh", deployArgs(host, h2, "switch", 30));
    expect(d2.code, d2.stderr).toBe(0);
    const g3 = Number(d2.res.generation);
    expect(g3).toBeGreaterThan(g2);
    // The first watchdog died with its unit: no process of it is left.
    expect((await host.run(`pgrep -f 'deploy-i[d] ${id1}' || echo none`)).stdout.trim()).toBe("none");
    // And had one survived, it refuses a deploy that is not its own.
    const stale = await host.run(`sh ${BASE}/current/.nhs/rollback.sh --watchdog --to 1 --deploy-id ${id1}`);
    expect(stale.code, stale.stderr).toBe(0);
    expect(stale.stdout).toContain("action=none");
    expect(stale.stderr).toContain(`not ${id1} that armed this watchdog`);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await host.generation()).toBe(g3);
    const v2 = await run(host, h2, "verify.sh", verifyArgs(host));
    expect(v2.code, v2.stderr).toBe(0);
    expect(await host.generation()).toBe(g3);
    await expectHealthy(host);
  });

  it("late confirmation: a verify that holds the lock when the watchdog fires still confirms", async () => {
    const h = await newRelease(host);
    const d = await run(host, h, "deploy.sh", deployArgs(host, h, "switch", 2));
    expect(d.code, d.stderr).toBe(0);
    const g1 = Number(d.res.generation);
    const slow = [...verifyArgs(host).filter((a, i, all) => !(a === "--timeout" || all[i - 1] === "--timeout")), "--timeout", "10", "--command", "sleep 5"];
    const v = await run(host, h, "verify.sh", slow);
    expect(v.code, v.stderr).toBe(0);
    expect(v.res).toMatchObject({ status: "ok", generation: String(g1) });
    expect(await host.mustRun("grep -c 'Triggered nhs-watchdog.service' /var/lib/nhs-sim/journal")).not.toBe("0\n");
    await waitWatchdogGone(host);
    expect(await host.generation()).toBe(g1);
    expect(await lastResult()).toMatch(/by=verify .*status=ok/);
    await expectHealthy(host);
  });

  it("late confirmation is bounded: a lock holder past its promised bound is stopped and the watchdog rolls back", async () => {
    const h = await newRelease(host);
    const g0 = await host.generation();
    const d = await run(host, h, "deploy.sh", deployArgs(host, h, "switch", 2));
    expect(d.code, d.stderr).toBe(0);
    // A hung "verify": alive, holding the lock, its bound 3 s away.
    const pid = (await host.mustRun("setsid sleep 303 </dev/null >/dev/null 2>&1 & echo $!")).trim();
    await host.mustRun(
      `mkdir ${BASE}/state/lock && printf 'pid=%s\\nstart=%s\\nby=verify\\nsince=%s\\nuntil=%s\\n' ${pid} "$(sed 's/^.*) //' /proc/${pid}/stat | cut -d' ' -f20)" "$(date +%s)" "$(($(date +%s) + 3))" >${BASE}/state/lock/owner`,
    );
    await waitFor("the watchdog rollback", async () => (await host.generation()) === g0 && (await pendingGone()), 20_000);
    await waitWatchdogGone(host);
    expect(await host.mustRun(`cat ${BASE}/state/deploy.log`)).toContain(`verify pid ${pid} still holds the deploy lock past its bound`);
    expect((await host.run(`kill -0 ${pid} 2>/dev/null && echo alive || echo gone`)).stdout.trim()).toBe("gone");
    await expectHealthy(host);
  });
});
