// The deploy key over real SSH: it reaches only the dispatcher's verbs, no shell, no forwarding,
// each refusal clear and in the journal; sudo as the NixOS module leaves it; from=; rotation.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { startHosts, SimHost } from "../harness/hosts";
import { exec, ExecResult } from "../harness/exec";
import { makeRelease, parseResult } from "../harness/release";
import { renderAuthorize, renderInstallKey, renderVerb } from "../../components/lib/remoteCommand";
import { authorizedKeyLine, deployKeyMarker } from "../../components/lib/sshKey";
import { renderDeployJson } from "../../components/lib/release";
import { deployArgs, newRelease, run, verifyArgs, waitFor } from "./helpers";

const DISPATCHER = fs.readFileSync(path.join(__dirname, "..", "..", "components", "host", "dispatch.sh"), "utf8");
const marker = deployKeyMarker("prod", "h");
let host: SimHost;
let tmp: string;

/** A fresh ed25519 key pair with our marker; returns the private key file and the public line. */
function keyPair(name: string, comment = marker): { file: string; pub: string } {
  const file = path.join(tmp, name);
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.pub`, { force: true });
  require("node:child_process").execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  return { file, pub: fs.readFileSync(`${file}.pub`, "utf8").trim() };
}

/** ssh as the deploy user with only `key` (no agent, no harness key), host key pinned. */
function sshWith(key: string, cmd: string | undefined, extra: string[] = [], input?: string): Promise<ExecResult> {
  const args = [
    "-i", key, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", `UserKnownHostsFile=${host.knownHostsPath}`,
    "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR",
    "-p", String(host.port), ...extra, `${host.deployUser}@${host.address}`,
  ];
  if (cmd !== undefined) args.push("--", cmd);
  return exec("ssh", args, { input, timeoutMs: 20_000 });
}

/** The bootstrap install exactly as KeyAuthorization sends it (here over the harness key, pre-module sudo). */
async function install(lines: string[], m = marker): Promise<void> {
  const r = await host.ssh(renderInstallKey(host.deployUser, lines, m), { input: DISPATCHER });
  expect(r.code, r.stderr).toBe(0);
}

const journal = async () => (await host.mustRun("journalctl -t nhs-dispatch -o cat")).split("\n");

let key: { file: string; pub: string };
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-dispatch-"));
  [host] = await startHosts(1, { names: ["disp"] });
  await host.mustRun("rm -f /var/lib/nixos-home-server/dispatch");
  key = keyPair("deploy");
  await install([authorizedKeyLine(key.pub)]);
});
afterAll(async () => {
  await host?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("the deploy key reaches only the dispatcher", () => {
  it("the bootstrap install puts a root-owned dispatcher in place and a restricted line", async () => {
    expect((await host.mustRun("stat -c '%U %a' /var/lib/nixos-home-server/dispatch")).trim()).toBe("root 755");
    const line = (await host.mustRun("cat /home/deploy/.ssh/authorized_keys")).split("\n").find((l) => l.endsWith(marker));
    expect(line).toBe(`restrict,command="/var/lib/nixos-home-server/dispatch --key ${marker}" ${key.pub.split(" ").slice(0, 2).join(" ")} ${marker}`);
  });

  it("runs its verbs: probe says which key and that the root half works", async () => {
    const r = await sshWith(key.file, renderVerb("probe"));
    expect(r.code, r.stderr).toBe(0);
    expect(parseResult(r.stdout)).toEqual({ status: "ok", login: "deploy-key", key: marker, root: "yes" });
  });

  it("gives no interactive shell, with or without a terminal", async () => {
    const refusal = "no interactive shell for the deploy key; it runs only: receive deploy verify rollback status generations probe secrets authorize switch-upstream";
    const r = await sshWith(key.file, undefined, ["-T"], "id\nexit\n");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`nhs-dispatch: refused: ${refusal}`);
    expect(r.stdout).not.toMatch(/uid=/);
    // With a terminal asked for: no pty, the client exits 255, and the dispatcher refused again.
    const before = (await journal()).filter((l) => l.endsWith(refusal)).length;
    const t = await sshWith(key.file, undefined, ["-tt"], "id\nexit\n");
    expect(t.code).toBe(255);
    expect(t.stderr).toMatch(/PTY allocation request failed/);
    expect(t.stdout + t.stderr).not.toMatch(/uid=/);
    // The client gives up on the pty without waiting for the session, so the dispatcher's journal
    // line may land a moment after ssh returned.
    await waitFor("the refusal's journal line", async () => (await journal()).filter((l) => l.endsWith(refusal)).length === before + 1, 5000);
  });

  it("runs no other command, and nothing smuggled into a verb's arguments", async () => {
    const cases: [string, string][] = [
      ["id", "this key runs only nixos-home-server's verbs (receive deploy verify rollback status generations probe secrets authorize switch-upstream), not 'id'"],
      ["sh -c 'id'", "this key runs only nixos-home-server's verbs"],
      ["status; touch /tmp/pwned", "only '[/var/lib/nixos-home-server/dispatch] VERB 'ARG'...' requests are accepted"],
      ["status $(touch /tmp/pwned)", "only '[/var/lib/nixos-home-server/dispatch] VERB 'ARG'...' requests are accepted"],
      ["status `touch /tmp/pwned`", "only '[/var/lib/nixos-home-server/dispatch] VERB 'ARG'...' requests are accepted"],
      ["status '$(touch /tmp/pwned)'", "status takes no arguments"],
      ["rollback '--to' '1;touch /tmp/pwned'", "--to needs a whole number, got '1;touch /tmp/pwned'"],
      ["rollback '--watchdog'", "rollback takes only [--to N]"],
      ["deploy 'abc' '--name' 'x'", "release hash must be 64 lowercase hex digits, got 'abc'"],
      [`deploy '${"a".repeat(64)}' '--release' '/etc'`, `deploy: --release must be /var/lib/nixos-home-server/releases/${"a".repeat(64)}`],
      [`verify '${"a".repeat(64)}' '--eval' 'x'`, "verify: unknown argument '--eval'"],
      ["/bin/sh status", "only '[/var/lib/nixos-home-server/dispatch] VERB 'ARG'...' requests are accepted"],
      ["authorize 'AAAAB3NzaC1yc2E'", "authorize takes the base64 of an ssh-ed25519 public key"],
      ["status\nid", "arguments must be one line"],
    ];
    for (const [cmd, why] of cases) {
      const r = await sshWith(key.file, cmd);
      expect(r.code, cmd).toBe(2);
      expect(r.stderr, cmd).toContain(`nhs-dispatch: refused: ${why}`);
      expect(parseResult(r.stdout).status, cmd).toBe("usage-error");
    }
    expect((await host.run("test -e /tmp/pwned")).code).toBe(1);
    // Each refusal is in the journal, with the key and the caller's address.
    const refusals = (await journal()).filter((l) => l.startsWith("refused "));
    expect(refusals.length).toBeGreaterThanOrEqual(cases.length);
    expect(refusals).toContain(`refused key=${marker} user=deploy from=${host.address.replace(/\.2$/, ".1")}: this key runs only nixos-home-server's verbs (receive deploy verify rollback status generations probe secrets authorize switch-upstream), not 'id'`);
  });

  it("forwards nothing: no remote or local port forwarding, no stdio forwarding, no pty", async () => {
    const remote = await sshWith(key.file, renderVerb("probe"), ["-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:18022:127.0.0.1:22"]);
    expect(remote.code).not.toBe(0);
    expect(remote.stderr).toMatch(/remote port forwarding failed for listen port 18022/);
    const stdio = await sshWith(key.file, undefined, ["-W", "127.0.0.1:22"]);
    expect(stdio.code).not.toBe(0);
    expect(stdio.stderr).toMatch(/stdio forwarding failed/);
    const pty = await sshWith(key.file, renderVerb("probe"), ["-tt"]);
    expect(pty.stderr).toMatch(/PTY allocation request failed/);
  });
});

describe("deploys through the dispatcher; sudo as the NixOS module leaves it", () => {
  it("receive, deploy, verify, status and generations over the deploy key, each logged with verb, release and caller", async () => {
    // A release that carries this key the way the program writes nixos/generated/deploy.json.
    const dir = makeRelease({
      hosts: { [host.name]: {} },
      files: { "nixos/generated/deploy.json": renderDeployJson({ user: host.deployUser, authorizedKey: authorizedKeyLine(key.pub) }) },
    });
    fs.mkdirSync(path.join(dir, ".nhs"), { recursive: true });
    const { packRelease } = await import("../harness/release");
    const { tarball, hash } = await packRelease(dir);
    const recv = await sshWith(key.file, renderVerb("receive", [hash, "3"]), [], tarball.toString("base64"));
    expect(recv.code, recv.stderr).toBe(0);
    expect(parseResult(recv.stdout)).toMatchObject({ status: "ok", hash });
    const d = await sshWith(key.file, renderVerb("deploy", [hash, ...deployArgs(host, hash, "switch", 30)]));
    expect(d.code, d.stderr).toBe(0);
    const v = await sshWith(key.file, renderVerb("verify", [hash, ...verifyArgs(host)]));
    expect(v.code, v.stderr).toBe(0);
    expect(parseResult((await sshWith(key.file, renderVerb("status"))).stdout)).toMatchObject({ status: "ok", watchdog: "none" });
    expect(parseResult((await sshWith(key.file, renderVerb("generations"))).stdout).status).toBe("ok");
    const caller = host.address.replace(/\.2$/, ".1");
    const log = await journal();
    for (const verb of ["receive", "deploy", "verify"]) {
      expect(log).toContain(`verb=${verb} release=${hash} key=${marker} user=deploy from=${caller}`);
    }
    expect(log).toContain(`verb=status release=${hash} key=${marker} user=deploy from=${caller}`);
  });

  it("after that switch the deploy user may sudo only the dispatcher, and the key still deploys", async () => {
    expect((await host.mustRun("cat /etc/sudoers.d/nhs-deploy")).trim()).toBe("deploy ALL=(root) NOPASSWD: /var/lib/nixos-home-server/dispatch");
    // The declared key is where NixOS puts users.users.<name>.openssh.authorizedKeys.keys.
    expect((await host.mustRun("cat /etc/ssh/authorized_keys.d/deploy")).trim()).toBe(authorizedKeyLine(key.pub));
    // A login with a shell (the harness key) cannot use sudo for anything else...
    const other = await host.ssh("sudo -n true");
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/a password is required|not allowed/);
    // ...but the dispatcher's root half is allowed, and it refuses what is not a verb.
    const viaSudo = await host.ssh("sudo -n /var/lib/nixos-home-server/dispatch --run sh -c id");
    expect(viaSudo.code).toBe(2);
    expect(viaSudo.stderr).toContain("nhs-dispatch: refused: this key runs only nixos-home-server's verbs");
    const h = await newRelease(host);
    const d = await run(host, h, "deploy.sh", deployArgs(host, h, "switch", 30));
    expect(d.code, d.stderr).toBe(0);
    expect((await run(host, h, "verify.sh", verifyArgs(host))).code).toBe(0);
  });
});

describe("key lines: other stacks, from= and rotation", () => {
  it("from= (deployFrom) keeps the key out from any other address, and the refusal is sshd's", async () => {
    const fenced = keyPair("fenced", deployKeyMarker("fenced", "h"));
    await install([authorizedKeyLine(fenced.pub, ["192.0.2.0/24"])], deployKeyMarker("fenced", "h"));
    const r = await sshWith(fenced.file, renderVerb("probe"));
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Permission denied \(publickey/);
    expect(await host.mustRun("cat /var/lib/nhs-sim/sshd.log")).toMatch(/Authentication tried for deploy with correct key but not from a permitted host/);
    const open = keyPair("open", deployKeyMarker("open", "h"));
    await install([authorizedKeyLine(open.pub, [host.address.replace(/\.2$/, ".1"), "fd00::/8"])], deployKeyMarker("open", "h"));
    expect((await sshWith(open.file, renderVerb("probe"))).code).toBe(0);
  });

  it("rotation over the current key swaps only this stack's line; the old key is out at once", async () => {
    const other = (await host.mustRun("cat /home/deploy/.ssh/authorized_keys")).split("\n").filter((l) => l && !l.endsWith(` ${marker}`));
    const next = keyPair("next");
    const r = await sshWith(key.file, renderAuthorize(next.pub, []));
    expect(r.code, r.stderr).toBe(0);
    expect(parseResult(r.stdout)).toEqual({ status: "ok", login: "deploy-key", key: marker, authorized: "installed", root: "yes" });
    const after = (await host.mustRun("cat /home/deploy/.ssh/authorized_keys")).split("\n").filter(Boolean);
    expect(after).toEqual([...other, authorizedKeyLine(next.pub)]);
    expect((await sshWith(next.file, renderVerb("probe"))).code).toBe(0);
    // The old key is now only in the NixOS-declared file until the next rebuild; drop that too, as
    // the rebuild with the new deploy.json does, and it is refused.
    await host.mustRun("rm -f /etc/ssh/authorized_keys.d/deploy");
    expect((await sshWith(key.file, renderVerb("probe"))).code).toBe(255);
    // The same request again changes nothing.
    expect(parseResult((await sshWith(next.file, renderAuthorize(next.pub, []))).stdout).authorized).toBe("present");
  });
});
