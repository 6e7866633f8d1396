// Shared steps of the host-script tests: make/sync releases, run deploy and verify
// like the Pulumi program does, and assert a host's health.
import { expect } from "vitest";
import { SimHost } from "../harness/hosts";
import { BASE, makeRelease, syncRelease, hostScript, parseResult } from "../harness/release";

let rev = 0;

/** Syncs a fresh release for the host (distinct content each call); returns its hash. */
export async function newRelease(host: SimHost, faults: string[] = []): Promise<string> {
  rev++;
  const dir = makeRelease({ hosts: { [host.name]: { faults } }, files: { "nixos/rev.nix": `${rev}\n` } });
  const r = await syncRelease(host, dir);
  expect(r.code, r.stderr).toBe(0);
  return r.hash;
}

export function deployArgs(host: SimHost, hash: string, mode = "switch", timeout = 15): string[] {
  return [
    "--name", host.name, "--release", `${BASE}/releases/${hash}`, "--mode", mode,
    "--confirm-timeout", String(timeout), "--min-free-mb", "20", "--keep-generations", "10",
  ];
}

export const verifyArgs = (host: SimHost): string[] => [
  "--name", host.name, "--retries", "2", "--interval", "1", "--timeout", "3",
  "--unit", "nginx.service", "--unit", "sshd.service", "--http", "http://localhost/=200",
  "--command", "test -e /run/current-system", "--min-free-mb", "2",
];

export async function run(host: SimHost, hash: string, script: string, args: string[] = [], timeoutMs?: number) {
  const r = await hostScript(host, hash, script, args, { timeoutMs });
  const res = r.stdout.includes("nhs-result") ? parseResult(r.stdout) : {};
  return { ...r, res };
}

/** Units running, nothing failed, nginx serving, no watchdog armed, nothing pending. */
export async function expectHealthy(host: SimHost): Promise<void> {
  expect((await host.run("systemctl is-active sshd.service nginx.service")).stdout.split("\n").filter(Boolean)).toEqual(["active", "active"]);
  expect((await host.run("systemctl --failed --no-legend")).stdout.trim()).toBe("");
  expect((await host.run("curl -s -o /dev/null -w '%{http_code}' http://localhost/")).stdout).toBe("200");
  await expectNoWatchdog(host);
  // sshd accepts new connections
  expect((await host.ssh("echo alive")).stdout.trim()).toBe("alive");
}

export async function expectNoWatchdog(host: SimHost): Promise<void> {
  const w = await host.run(`systemctl is-active nhs-watchdog.timer nhs-watchdog.service; ls ${BASE}/state/`);
  expect(w.stdout).not.toMatch(/^active$/m);
  expect(w.stdout).not.toMatch(/^pending$/m);
}

export async function waitFor(what: string, fn: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** A watchdog rollback is written before its own unit exits: wait for the unit to finish. */
export async function waitWatchdogGone(host: SimHost): Promise<void> {
  await waitFor("watchdog gone", async () => (await host.run("systemctl is-active nhs-watchdog.timer nhs-watchdog.service")).code !== 0, 10_000);
}
