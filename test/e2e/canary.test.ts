// End to end, secrets: unique canaries with quotes, $, ; and a backslash as a bootstrap password, a
// key passphrase, an uploaded secret and two notification credentials (webhook URL, SMTP password);
// preview, up, a failing up and `stack export`; then every text, file and process list a leak could
// reach is searched. Zero hits outside encrypted state and the secrets' own root-only files.
import { execFile, execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject } from "../harness/project";

const tag = randomUUID().slice(0, 8);
// The prefixes are what is searched: an escaped or re-quoted copy still carries them.
const PASSWORD = `CanaryPw${tag}'"$HOME;\\x`;
const PASSPHRASE = `CanaryPp${tag}"'$(id);\\y`;
const SECRET = `CanarySecret${tag}'"$PATH;\\s`;
// Nothing listens on the hosts' own loopback port 9: every delivery fails, so the failure paths
// (notify-failed events, spool, retries) are searched too.
const HOOK = `http://127.0.0.1:9/CanaryHook${tag}/'"$x;\\h`;
const SMTP_PASSWORD = `CanarySmtp${tag}'"$(id);\\m`;
const needles = [`CanaryPw${tag}`, `CanaryPp${tag}`, `CanarySecret${tag}`, `CanaryHook${tag}`, `CanarySmtp${tag}`];
/** Where the uploaded secret and the notification credentials belong: root-only files. */
const SECRETS_DIR = "/var/lib/nixos-home-server/secrets";

let hosts: SimHost[];
let project: E2EProject;
let keyFile: string;
/** Every text a user or a log sees: run outputs, errors, the export. */
const texts: { where: string; text: string }[] = [];
const samples: string[] = [];

function sampleProcesses(): () => void {
  let stop = false;
  const tick = () => {
    if (stop) return;
    execFile("ps", ["-eo", "args"], { maxBuffer: 8 << 20 }, (_e, out) => {
      samples.push(String(out));
      setTimeout(tick, 100);
    });
  };
  tick();
  return () => {
    stop = true;
  };
}

beforeAll(async () => {
  hosts = await startHosts(2, { names: ["can1", "can2"] });
  const [h1, h2] = hosts;
  // can1 bootstraps with the canary password...
  const set = await h1.run(`chpasswd`, { input: `${h1.bootstrapUser}:${PASSWORD}\n` });
  expect(set.code, set.stderr).toBe(0);
  // ...can2 with a key file encrypted with the canary passphrase.
  const dir = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "nhs-canary-"));
  keyFile = path.join(dir, "bootstrap_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", PASSPHRASE, "-C", "bootstrap", "-f", keyFile]);
  const add = await h2.run(`cat >> /home/${h2.bootstrapUser}/.ssh/authorized_keys`, { input: fs.readFileSync(`${keyFile}.pub`) });
  expect(add.code).toBe(0);
  project = await E2EProject.create(hosts, {
    stack: "canary",
    parallelism: 2,
    servers: {
      can1: { secrets: [{ name: "app-token", secretKey: "can1App" }] },
      can2: { bootstrap: { keyFile: { path: keyFile, passphrase: { secretKey: "can2Passphrase" } } } },
    },
    fleet: {
      notify: {
        webhook: { url: { secretKey: "hookUrl" } },
        email: { smtpUrl: "smtp://127.0.0.1:9", from: "nhs@home.arpa", to: ["me@home.arpa"], user: "nhs", password: { secretKey: "smtpPassword" } },
      },
    },
    secrets: { can1Password: PASSWORD, can2Passphrase: PASSPHRASE, can1App: SECRET, hookUrl: HOOK, smtpPassword: SMTP_PASSWORD },
  });
  // The stack and its secret config are set up before the sampling: the Automation API's setConfig
  // passes the value in `pulumi config set`'s argv (a user types it at the prompt instead).
  await project.stack();
});

afterAll(async () => {
  await project?.remove();
  for (const h of hosts ?? []) await h.stop();
  if (keyFile) fs.rmSync(path.dirname(keyFile), { recursive: true, force: true });
});

/** Output (stdout and stderr) of the project's CLI; fails on a non-zero exit. */
async function cliText(args: string[]): Promise<string> {
  const cli = project.spawnCli(args);
  let out = "";
  cli.stdout!.on("data", (d) => (out += d));
  cli.stderr!.on("data", (d) => (out += d));
  const code = await new Promise<number>((resolve) => cli.on("close", (c) => resolve(c ?? 1)));
  expect(code, out.slice(-2000)).toBe(0);
  return out;
}

/** Files under `dir` (recursively) whose content contains any needle. */
function filesWith(dir: string, words: string[]): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.name === "node_modules") continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && words.some((w) => fs.readFileSync(p).includes(w))) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

describe("canaries", () => {
  it("preview, up, a failing up and stack export carry them only in encrypted state", async () => {
    const stop = sampleProcesses();
    try {
      const p = await project.preview();
      texts.push({ where: "preview", text: `${p.output}\n${p.error ?? ""}` });
      expect(p.ok, p.error).toBe(true);
      const up = await project.up();
      texts.push({ where: "up", text: `${up.output}\n${up.error ?? ""}` });
      expect(up.error ?? "").toBe("");
      project.setReleaseFault("can1", "activate-fails");
      const bad = await project.up();
      texts.push({ where: "failing up", text: `${bad.output}\n${bad.error ?? ""}` });
      expect(bad.ok).toBe(false);
      expect(bad.error).toMatch(/rolled back/);
    } finally {
      stop();
    }
    // The CLI's plain `stack export` (the Automation API's exportStack adds --show-secrets).
    const exported = await cliText(["stack", "export", "--stack", "canary"]);
    texts.push({ where: "stack export", text: exported });
    // The secrets are there, encrypted: the export without --show-secrets has ciphertext instead.
    expect(exported).toContain("4dabf18193072939515e22adb298388d"); // the secret signature

    for (const { where, text } of texts) {
      for (const n of needles) expect(text.includes(n), `${where} contains ${n}`).toBe(false);
    }
    // State files on disk (the file backend) and the project copy (its stack file holds ciphertext).
    expect(filesWith(project.dir, needles)).toEqual([]);
    // The deployer's and the hosts' process lists while they worked.
    expect(samples.length).toBeGreaterThan(10);
    for (const s of samples) for (const n of needles) expect(s.includes(n)).toBe(false);
    // On each host: the releases, state, deploy log, sshd log, journal, and the users' files.
    const patterns = needles.map((n) => `-e '${n}'`).join(" ");
    for (const h of hosts) {
      const grep = await h.run(`grep -rlF ${patterns} /var/lib/nixos-home-server /var/lib/nhs-sim /home /etc /tmp /run; true`);
      const found = grep.stdout.split("\n").filter(Boolean).sort();
      // Only the secrets' own files hold them: the uploaded secret on can1, the notification
      // credentials on both, each root-owned and readable by root alone.
      const expected = [...(h.name === "can1" ? [`${SECRETS_DIR}/app-token`] : []), `${SECRETS_DIR}/nhs-notify-smtp-password`, `${SECRETS_DIR}/nhs-notify-webhook-url`];
      expect(found, h.name).toEqual(expected);
      for (const f of expected) expect((await h.mustRun(`stat -c '%U:%G %a' '${f}'`)).trim(), f).toBe("root:root 400");
      const journal = await h.mustRun("journalctl -o cat");
      for (const n of needles) expect(journal.includes(n)).toBe(false);
    }
  });

  it("pulumi preview --debug shows no canary and no private key (the SDK's RPC payloads are not logged)", async () => {
    const out = await cliText(["preview", "--debug", "--non-interactive", "--stack", "canary"]);
    expect(out).toMatch(/RegisterResource RPC finished: .*resp: \[payload not logged by nixos-home-server: it may hold secrets\]/);
    // Where a leak would come from (the text before it, never the key itself).
    // The deploy keys live in state only as their seeds (RandomBytes, and HostProbe's copy), secret:
    // no seed, in either encoding, and no "PRIVATE KEY" text may show.
    const state = JSON.parse(await cliText(["stack", "export", "--show-secrets", "--stack", "canary"]));
    const seeds = (state.deployment.resources as { type: string; outputs?: { base64?: string; hex?: string } }[])
      .filter((r) => r.type === "random:index/randomBytes:RandomBytes")
      .flatMap((r) => [r.outputs!.base64!, r.outputs!.hex!]);
    expect(seeds.length).toBeGreaterThanOrEqual(4);
    const where = out.split("\n").filter((l) => l.includes("PRIVATE KEY")).map((l) => l.slice(0, l.indexOf("PRIVATE KEY")).slice(-200));
    expect(where).toEqual([]);
    for (const n of [...needles, ...seeds]) expect(out.includes(n)).toBe(false);
  });
});
