// The proving ground itself: hosts are isolated, reachable only while their
// namespace exists, accept bootstrap password logins, count sessions, and a
// killed run's leftovers are cleaned up by the next start.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startHosts, SimHost, HOSTS_DIR, listHosts } from "../harness/hosts";
import { exec } from "../harness/exec";
import { BASE } from "../harness/release";

let hosts: SimHost[] = [];
beforeAll(async () => {
  hosts = await startHosts(2);
});
afterAll(async () => {
  for (const h of hosts) await h.stop();
});

describe("simulated hosts", () => {
  it("each has its own address, host key, generation 1 and healthy units", async () => {
    const [a, b] = hosts;
    expect(a.address).not.toBe(b.address);
    expect(a.address).toMatch(/^10\.231\.\d+\.2$/);
    expect(a.hostKeyLine).toMatch(/^ssh-ed25519 AAAA[0-9A-Za-z+/=]+$/);
    expect(a.hostKeyLine).not.toBe(b.hostKeyLine);
    for (const h of hosts) {
      expect(await h.generation()).toBe(1);
      expect((await h.run("systemctl is-active sshd nginx")).stdout).toBe("active\nactive\n");
      expect((await h.run("readlink /run/booted-system")).stdout).toBe((await h.run("readlink /run/current-system")).stdout);
    }
    // private views: a file in one host's state is not in the other's
    await a.mustRun(`touch ${BASE}/only-a`);
    expect((await b.run(`test -e ${BASE}/only-a`)).code).toBe(1);
    expect(fs.existsSync(`${BASE}/only-a`)).toBe(false);
  });

  it("the deploy user logs in by key and has passwordless sudo; commands are counted", async () => {
    const h = hosts[0];
    const n0 = await h.commandCount();
    const r = await h.ssh("id -un && sudo -n id -un");
    expect(r.stdout).toBe("deploy\nroot\n");
    expect(await h.commandCount()).toBe(n0 + 1);
  });

  it("the bootstrap user logs in with its password", async () => {
    const h = hosts[1];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-askpass-"));
    try {
      // The password reaches ssh through SSH_ASKPASS, never the command line.
      fs.writeFileSync(path.join(dir, "pw"), h.bootstrapPassword, { mode: 0o600 });
      fs.writeFileSync(path.join(dir, "askpass"), `#!/bin/sh\ncat '${path.join(dir, "pw")}'\n`, { mode: 0o700 });
      const r = await exec("ssh", [
        "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
        "-o", `UserKnownHostsFile=${h.knownHostsPath}`, "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=3",
        `${h.bootstrapUser}@${h.address}`, "id -un && sudo -n true && echo sudo-ok",
      ], { env: { ...process.env, SSH_ASKPASS: path.join(dir, "askpass"), SSH_ASKPASS_REQUIRE: "force", DISPLAY: "none" } });
      expect(r.stdout).toBe("admin\nsudo-ok\n");
      // a wrong password is refused
      fs.writeFileSync(path.join(dir, "pw"), "wrong");
      const bad = await exec("ssh", [
        "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1",
        "-o", `UserKnownHostsFile=${h.knownHostsPath}`, "-o", "ConnectTimeout=3", `${h.bootstrapUser}@${h.address}`, "true",
      ], { env: { ...process.env, SSH_ASKPASS: path.join(dir, "askpass"), SSH_ASKPASS_REQUIRE: "force", DISPLAY: "none" } });
      expect(bad.code).toBe(255);
      expect(bad.stderr).toContain("Permission denied");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("can start a host whose deploy user has no key yet", async () => {
    const [k] = await startHosts(1, { names: ["nokey"], authorizeDeployKey: false });
    hosts.push(k);
    expect((await k.ssh("true")).code).toBe(255);
    expect((await k.ssh("id -un", { user: k.bootstrapUser })).stdout).toBe("admin\n");
    await k.stop();
  });

  it("the deploy user has no password login", async () => {
    const h = hosts[0];
    const r = await h.ssh("true", { user: "deploy", args: ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password"] });
    expect(r.code).toBe(255);
  });

  it("a killed run's hosts are cleaned up by the next start; stopped hosts refuse connections", async () => {
    // Fake a host whose owner process is dead by re-owning one of ours.
    const victim = hosts[1];
    const rec = path.join(HOSTS_DIR, victim.name, "host.json");
    const j = JSON.parse(fs.readFileSync(rec, "utf8"));
    j.owner = 2 ** 22 + 12345; // above pid_max on a default system: never alive
    fs.writeFileSync(rec, JSON.stringify(j));
    const [fresh] = await startHosts(1, { names: ["fresh"] });
    hosts.push(fresh);
    expect(victim.exists()).toBe(false);
    expect(fs.existsSync(victim.dir)).toBe(false);
    expect((await exec("ip", ["netns", "list"])).stdout).not.toContain(`${victim.netns} `);
    expect(listHosts().map((h) => h.name)).not.toContain(victim.name);
    expect(() => victim.ssh("true")).toThrow(/network namespace nhs-\w+ does not exist/);
    expect(hosts[0].exists()).toBe(true); // a live owner's host is left alone
  });
});

// The NixOS facts the simulator models, one test each (sources in test/harness/README.md).
describe("NixOS-faithful hosts", () => {
  it("/bin holds only sh and /usr/bin only env", async () => {
    const r = await hosts[0].ssh("ls /bin; echo --; ls /usr/bin");
    expect(r.stdout).toBe("env\nsh\n--\nenv\nsh\n");
  });

  it("tools live in /nix/store, reached through /run/current-system/sw/bin of the running generation", async () => {
    const r = await hosts[0].ssh('command -v sed; readlink -f "$(command -v sed)"; readlink /run/current-system/sw; test -e /run/current-system/sw/bin/nixos-rebuild && echo has-rebuild');
    const [where, real, sw, rebuild] = r.stdout.trim().split("\n");
    expect(where).toBe("/run/current-system/sw/bin/sed");
    expect(real).toMatch(/^\/nix\/store\/[0-9a-z]{32}-[^/]+\/bin\/sed$/);
    expect(sw).toMatch(/^\/nix\/store\/[0-9a-z]{32}-system-path$/);
    expect(rebuild).toBe("has-rebuild");
    expect((await hosts[0].run("readlink -f /run/current-system/sw")).stdout).toBe((await hosts[0].run("readlink -f \"$(readlink /run/current-system)/sw\"")).stdout);
  });

  it("sudo works only as /run/wrappers/bin/sudo; the store's sudo cannot gain root", async () => {
    const r = await hosts[0].ssh('command -v sudo; "$(readlink -f /run/current-system/sw/bin/sudo)" -n true');
    expect(r.stdout.trim()).toBe("/run/wrappers/bin/sudo");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("effective uid is not 0");
  });

  it("login shells get NixOS's PATH, and sudo keeps it (no secure_path)", async () => {
    const want = "/run/wrappers/bin:/home/deploy/.nix-profile/bin:/nix/profile/bin:/etc/profiles/per-user/deploy/bin:/nix/var/nix/profiles/default/bin:/run/current-system/sw/bin";
    const r = await hosts[0].ssh("echo \"$PATH\"; sudo -n sh -c 'echo \"$PATH\"'");
    expect(r.stdout).toBe(`${want}\n${want}\n`);
  });

  it("a transient unit with no PATH given cannot find dirname; -E gives it exactly what is passed", async () => {
    const bare = await hosts[0].ssh("sudo -n systemd-run --wait --collect -p StandardOutput=append:/tmp/bare -p StandardError=append:/tmp/bare sh -c 'dirname /a/b'; echo rc=$?; cat /tmp/bare");
    expect(bare.stdout).toMatch(/^rc=127\n.*dirname: not found/s);
    const given = await hosts[0].ssh("sudo -n systemd-run --wait --collect -E PATH=/run/current-system/sw/bin -E X='a b' -p StandardOutput=append:/tmp/given sh -c 'dirname /a/b; env | sort'; echo rc=$?; cat /tmp/given");
    expect(given.stdout).toBe("rc=0\n/a\nPATH=/run/current-system/sw/bin\nPWD=/\nX=a b\n");
  });

  it("RuntimeMaxSec and systemctl stop end every process of a unit", async () => {
    const t = await hosts[0].ssh("sudo -n systemd-run --wait --collect -E PATH=/run/current-system/sw/bin -p RuntimeMaxSec=1 sh -c 'sleep 301 & sleep 301'; echo rc=$?");
    expect(t.stdout).not.toContain("rc=0");
    expect(t.stderr).toContain("Finished with result: timeout");
    await hosts[0].ssh("sudo -n systemd-run --unit nhs-t -E PATH=/run/current-system/sw/bin sh -c 'sleep 302 & sleep 302'");
    await hosts[0].ssh("sudo -n systemctl stop nhs-t");
    const left = await hosts[0].run("pgrep -f 'sleep 30[12]' || echo none");
    expect(left.stdout.trim()).toBe("none");
  });
});
