// The deploy key over real SSH: it reaches only the dispatcher's verbs, no shell, no forwarding,
// each refusal clear and in the journal; sudo as the NixOS module leaves it; from=; rotation.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { startHosts, SimHost } from "../harness/hosts";
import { Client, SFTPWrapper } from "ssh2";
import { exec, ExecResult } from "../harness/exec";
import { makeRelease, parseResult } from "../harness/release";
import { dispatchUpload, renderAuthorize, renderInstallKey, renderSyncBootstrap, renderVerb, uploadName } from "../../components/lib/remoteCommand";
import { authorizedKeyLine, deployKeyMarker } from "../../components/lib/sshKey";
import { renderDeployJson } from "../../components/lib/release";
import { deployArgs, newRelease, run, verifyArgs } from "./helpers";
import { shellQuote } from "../../components/lib/shell";

const DISPATCHER = path.join(__dirname, "..", "..", "components", "host", "dispatch.sh");
const marker = deployKeyMarker("prod", "h");
/** The dispatcher's verbs as its refusals list them (dispatch.sh VERBS), written out, not read from it. */
const VERBS = "receive deploy verify rollback status generations probe secrets authorize switch-upstream";
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

/** SFTP as the deploy user with only `key`, host key pinned: one session, one request at a time. */
async function sftpWith<T>(key: string, fn: (s: SFTPWrapper) => Promise<T>): Promise<T> {
  const pinned = Buffer.from(fs.readFileSync(host.knownHostsPath, "utf8").trim().split(/\s+/)[2], "base64");
  const c = new Client();
  await new Promise<void>((resolve, reject) => {
    c.on("ready", resolve).on("error", reject).connect({
      host: host.address, port: host.port, username: host.deployUser, privateKey: fs.readFileSync(key), readyTimeout: 10_000,
      hostVerifier: (k: Buffer) => k.equals(pinned),
    });
  });
  try {
    const s = await new Promise<SFTPWrapper>((resolve, reject) => c.sftp((e, w) => (e ? reject(e) : resolve(w))));
    return await fn(s);
  } finally {
    c.end();
  }
}

/** One SFTP request's outcome: its value, or the server's status code (3: permission denied). */
function req<T>(call: (cb: (err: (Error & { code?: number }) | null | undefined, v?: T) => void) => void): Promise<{ ok: true; v: T } | { ok: false; code: number | undefined; message: string }> {
  return new Promise((resolve) => {
    try {
      call((err, v) => resolve(err ? { ok: false, code: err.code, message: err.message } : { ok: true, v: v as T }));
    } catch (e) {
      resolve({ ok: false, code: undefined, message: (e as Error).message });
    }
  });
}

/**
 * An upload exactly as pulumi-command's CopyToRemote sends it (remote/copyController.go, pkg/sftp
 * v1.13): Stat of the path, then Create (an open; here with a mode when given, as OpenSSH's put sends
 * one), writes, Close. Throws with the failing request's message.
 */
async function upload(s: SFTPWrapper, local: string, remote: string, mode?: number): Promise<void> {
  const st = await req((cb) => s.stat(remote, cb));
  if (!st.ok && st.code !== 2) throw new Error(`stat ${remote}: ${st.message}`);
  const h = await req<Buffer>((cb) => s.open(remote, "w", mode === undefined ? {} : { mode }, cb));
  if (!h.ok) throw new Error(`open ${remote}: ${h.message}`);
  const data = fs.readFileSync(local);
  const w = await req((cb) => s.write(h.v, data, 0, data.length, 0, cb));
  const c = await req((cb) => s.close(h.v, cb));
  if (!w.ok || !c.ok) throw new Error(`write ${remote}: ${w.ok ? "" : w.message}${c.ok ? "" : c.message}`);
}

/** `cmd` over the deploy key is refused by the dispatcher (exit 2) for `why`. */
async function refused(cmd: string, why: string): Promise<ExecResult> {
  const r = await sshWith(key.file, cmd);
  expect(r.code, cmd).toBe(2);
  expect(r.stderr, cmd).toContain(`nhs-dispatch: refused: ${why}`);
  return r;
}

/** The bootstrap install exactly as KeyAuthorization sends it (here over the harness key, pre-module sudo). */
async function install(lines: string[], m = marker): Promise<void> {
  // KeyAuthorization's CopyToRemote of the dispatcher first (SFTP, with the same credentials).
  const up = await host.sftp(`put ${DISPATCHER} ${dispatchUpload(m)}\n`);
  expect(up.code, up.stderr).toBe(0);
  const r = await host.ssh(renderInstallKey(host.deployUser, lines, m));
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
    expect((await host.run(`test -e /home/deploy/${dispatchUpload(marker)}`)).code).toBe(1); // the upload is gone
    const line = (await host.mustRun("cat /home/deploy/.ssh/authorized_keys")).split("\n").find((l) => l.endsWith(marker));
    expect(line).toBe(`restrict,command="/var/lib/nixos-home-server/dispatch --key ${marker}" ${key.pub.split(" ").slice(0, 2).join(" ")} ${marker}`);
  });

  it("runs its verbs: probe says which key and that the root half works", async () => {
    const r = await sshWith(key.file, renderVerb("probe"));
    expect(r.code, r.stderr).toBe(0);
    expect(parseResult(r.stdout)).toEqual({ status: "ok", login: "deploy-key", key: marker, root: "yes" });
  });

  it("gives no interactive shell, with or without a terminal", async () => {
    const refusal = `no interactive shell for the deploy key; it runs only: ${VERBS}`;
    const r = await sshWith(key.file, undefined, ["-T"], "id\nexit\n");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`nhs-dispatch: refused: ${refusal}`);
    expect(r.stdout).not.toMatch(/uid=/);
    // With a terminal forced: no pty, and the client exits 255 on that refusal (OpenSSH's
    // clientloop treats a failed pty request as fatal when a tty was explicitly asked for). It can
    // hang up before the dispatcher has logged its own refusal (one fresh-clone CI run saw that),
    // so the journal gains that refusal or nothing, never anything else.
    const lines = async () => (await journal()).filter((l) => l !== "");
    const before = (await lines()).length;
    const t = await sshWith(key.file, undefined, ["-tt"], "id\nexit\n");
    expect(t.code).toBe(255);
    expect(t.stderr).toMatch(/PTY allocation request failed/);
    expect(t.stdout + t.stderr).not.toMatch(/uid=/);
    const added = (await lines()).slice(before);
    expect(added.length).toBeLessThanOrEqual(1);
    for (const l of added) expect(l.endsWith(refusal), l).toBe(true);
  });

  it("runs no other command, and nothing smuggled into a verb's arguments", async () => {
    const cases: [string, string][] = [
      ["id", `this key runs only nixos-home-server's verbs (${VERBS}), not 'id'`],
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
      const r = await refused(cmd, why);
      expect(parseResult(r.stdout).status, cmd).toBe("usage-error");
    }
    expect((await host.run("test -e /tmp/pwned")).code).toBe(1);
    // Each refusal is in the journal, with the key and the caller's address.
    const refusals = (await journal()).filter((l) => l.startsWith("refused "));
    expect(refusals.length).toBeGreaterThanOrEqual(cases.length);
    expect(refusals).toContain(`refused key=${marker} user=deploy from=${host.address.replace(/\.2$/, ".1")}: this key runs only nixos-home-server's verbs (${VERBS}), not 'id'`);
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

describe("SFTP: the deploy key uploads files, and nothing else", () => {
  const home = "/home/deploy";
  const state = () => host.mustRun(`stat -c '%n %U %a %s' ${home}/.ssh/authorized_keys ${home}/.bashrc; ls -A ${home}; sha256sum ${home}/.ssh/authorized_keys`);

  it("cannot replace authorized_keys or ~/.bashrc, nor read, list, mkdir, rename, remove, link or chmod", async () => {
    // Any verb's root half (here probe) makes what sshd and bash read for the user root's.
    expect((await sshWith(key.file, renderVerb("probe"))).code).toBe(0);
    expect((await host.mustRun(`stat -c '%U %a' ${home}/.ssh/authorized_keys ${home}/.ssh/authorized_keys2 ${home}/.bashrc`)).trim().split("\n")).toEqual(["root 644", "root 644", "root 644"]);
    const evil = path.join(tmp, "evil");
    fs.writeFileSync(evil, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEVpbCBrZXkgZm9yIHRoZSB0ZXN0IG9ubHkgMTIzNDU2Nzg evil\n");
    await sftpWith(key.file, (s) => upload(s, evil, "f.txt"));
    const before = await state();
    // Each request the key might try instead, with what refuses it: the allow-list (permission
    // denied, status 3), or file ownership (the open of a root-owned file is denied the same way).
    const outcomes = await sftpWith(key.file, async (s) => {
      const h = await req<Buffer>((cb) => s.open(".ssh/authorized_keys", "r", cb));
      const cases: [string, () => Promise<{ ok: boolean; code?: number; message?: string }>][] = [
        ["open .ssh/authorized_keys for writing", () => req((cb) => s.open(".ssh/authorized_keys", "w", cb))],
        ["open .bashrc for writing", () => req((cb) => s.open(".bashrc", "w", cb))],
        ["open .ssh/authorized_keys2 for writing", () => req((cb) => s.open(".ssh/authorized_keys2", "w", cb))],
        ["mkdir", () => req((cb) => s.mkdir("d", cb))],
        ["rename", () => req((cb) => s.rename("f.txt", ".ssh/authorized_keys2", cb))],
        ["remove", () => req((cb) => s.unlink("f.txt", cb))],
        ["rmdir", () => req((cb) => s.rmdir(".ssh", cb))],
        ["symlink", () => req((cb) => s.symlink("/etc/shadow", "s", cb))],
        ["setstat (chmod)", () => req((cb) => s.setstat("f.txt", { mode: 0o777 }, cb))],
        ["opendir", () => req((cb) => s.opendir(".ssh", cb))],
        ["read", async () => (h.ok ? req((cb) => s.read(h.v, Buffer.alloc(64), 0, 64, 0, cb)) : h)],
        ["fstat", async () => (h.ok ? req((cb) => s.fstat(h.v, cb)) : h)],
        ["lstat", () => req((cb) => s.lstat("f.txt", cb))],
        ["realpath", () => req((cb) => s.realpath(".", cb))],
      ];
      const out: Record<string, { ok: boolean; code?: number }> = {};
      for (const [name, call] of cases) {
        const r = await call();
        out[name] = { ok: r.ok, code: r.ok ? undefined : r.code };
      }
      // hardlink@openssh.com is not in the allow-list; ssh2 refuses before sending when the server
      // does not offer it, so any failure counts, and the state check below proves nothing changed.
      const link = await req((cb) => s.ext_openssh_hardlink("f.txt", "h", cb));
      out.hardlink = { ok: link.ok };
      return out;
    });
    for (const [name, r] of Object.entries(outcomes)) {
      expect(r.ok, name).toBe(false);
      if (name !== "hardlink") expect(r.code, name).toBe(3);
    }
    expect(await state()).toBe(before);
    expect((await host.mustRun(`stat -c '%U %a' ${home}/f.txt`)).trim()).toBe("deploy 644");
    // Still only the dispatcher: the key logs in and gets no shell.
    expect((await sshWith(key.file, "id")).code).toBe(2);
  });

  it("runs only the configured sftp-server, root's: every other subsystem or path is refused", async () => {
    // An upload named sftp-server, executable (SFTP open carries the mode), is the deploy user's
    // file: never run.
    const fake = path.join(tmp, "sftp-server");
    fs.writeFileSync(fake, "#!/bin/sh\nid\n", { mode: 0o755 });
    await sftpWith(key.file, (s) => upload(s, fake, "sftp-server", 0o755));
    expect((await host.mustRun(`stat -c '%U %a' ${home}/sftp-server`)).trim()).toBe("deploy 755");
    const cases: [string, string][] = [
      [`${home}/sftp-server`, `the sftp subsystem ${home}/sftp-server: ${home}/sftp-server is not root's`],
      ["/usr/lib/openssh/../openssh/sftp-server", "the sftp subsystem path '/usr/lib/openssh/../openssh/sftp-server' is not a plain absolute path"],
      ["/nonexistent/sftp-server", "the sftp subsystem /nonexistent/sftp-server: /nonexistent/sftp-server is not root's"],
      ["sftp-server", `this key runs only nixos-home-server's verbs (${VERBS}), not 'sftp-server'`],
      ["internal-sftp", "internal-sftp cannot run under a forced command"],
      ["/usr/lib/openssh/sftp-server;id", "only '[/var/lib/nixos-home-server/dispatch] VERB 'ARG'...' requests are accepted"],
      ["scp -t .", "this key runs only nixos-home-server's verbs"],
    ];
    for (const [cmd, why] of cases) {
      const r = await refused(cmd, why);
      expect(r.stdout, cmd).not.toMatch(/uid=/);
    }
    // Flags after the path (NixOS's sftpFlags, or a client's) are dropped: the allow-list stays.
    const flags = await sshWith(key.file, "/usr/lib/openssh/sftp-server -p open,remove,mkdir");
    expect(flags.code, flags.stderr).toBe(0);
    expect((await journal()).filter((l) => l.startsWith("verb=sftp ")).pop()).toMatch(/^verb=sftp requests=open,close,write,stat /);
    // A subsystem sshd does not configure never reaches the dispatcher.
    const other = await sshWith(key.file, "netconf", ["-s"]);
    expect(other.code).not.toBe(0);
    expect(other.stdout).not.toMatch(/uid=/);
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
    // Uploaded as ConfigSync's CopyToRemote does: SFTP as the deploy user, to ~/<uploadName>.
    const local = path.join(tmp, "release.tar.gz");
    fs.writeFileSync(local, tarball);
    await sftpWith(key.file, (s) => upload(s, local, uploadName(hash)));
    const recv = await sshWith(key.file, renderSyncBootstrap(hash, 3));
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
    expect(log).toContain(`verb=sftp requests=open,close,write,stat key=${marker} user=deploy from=${caller}`);
    // The upload stays for a rerun; the root half copied it, so it is still the deploy user's.
    expect((await host.mustRun(`stat -c %U /home/deploy/${uploadName(hash)}`)).trim()).toBe("deploy");
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

describe("root halves and the user's own key writes, at once", () => {
  it("authorized_keys never becomes unreadable to its user while a root half makes it root's", async () => {
    // The race a first deploy met (the upload's root half beside the login test's authorize): the
    // user, holding ~/.ssh/.nhs-lock as authorize and the install do, reads the file and replaces it
    // by rename, while root halves run. Every read must succeed. Root halves run directly here (as
    // sudo runs them), the user's side through sudo -u: hundreds of rounds in a few seconds.
    const f = "/home/deploy/.ssh/authorized_keys";
    const rounds = 300;
    const root = `i=0; while [ $i -lt ${rounds} ]; do SUDO_USER=deploy /var/lib/nixos-home-server/dispatch --run probe >/dev/null || exit 1; i=$((i + 1)); done`;
    const user = [
      `f=${f}; d=\${f%/*}; i=0; bad=0`,
      `while [ $i -lt ${rounds} ]; do`,
      '  until mkdir "$d/.nhs-lock" 2>/dev/null; do sleep 0.01; done',
      '  t=$(mktemp "$f.XXXXXX")',
      '  if cat "$f" >"$t" 2>/dev/null; then mv -f "$t" "$f"; else bad=$((bad + 1)); rm -f "$t"; fi',
      '  cat "$f" >/dev/null 2>&1 || bad=$((bad + 1))',
      '  rmdir "$d/.nhs-lock"; i=$((i + 1))',
      "done",
      'echo "unreadable=$bad"',
    ].join("\n");
    const before = await host.mustRun(`cat ${f}`);
    const [r, u] = await Promise.all([host.run(root), host.run(`sudo -u deploy sh -c ${shellQuote(user)}`)]);
    expect(r.code, r.stderr).toBe(0);
    expect(u.stdout.trim(), u.stderr).toBe("unreadable=0");
    expect(await host.mustRun(`cat ${f}`)).toBe(before);
    expect((await sshWith(key.file, renderVerb("probe"))).code).toBe(0);
  });

  it("a lock left by a killed session (older than a minute) is removed, and the verb and the install go on", async () => {
    const lock = "/home/deploy/.ssh/.nhs-lock";
    const stale = `mkdir -p ${lock} && chown deploy: ${lock} && touch -d '2 minutes ago' ${lock}`;
    await host.mustRun(stale);
    // Without the removal the root half waits its 30 s for the lock and refuses.
    expect((await sshWith(key.file, renderVerb("probe"))).code).toBe(0);
    expect((await journal()).some((l) => l.includes(`removed a stale ${lock}`))).toBe(true);
    expect((await host.run(`test -e ${lock}`)).code).not.toBe(0);
    // The bootstrap install breaks it the same way.
    await host.mustRun(stale);
    const before = await host.mustRun("cat /home/deploy/.ssh/authorized_keys");
    const line = before.split("\n").find((l) => l.endsWith(` ${marker}`))!;
    await install([line]);
    expect((await host.run(`test -e ${lock}`)).code).not.toBe(0);
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
