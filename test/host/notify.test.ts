// Events, metrics, notifications and secrets from the host, over the proving ground's network:
// a real HTTP receiver and a real SMTP server (smtp-server: STARTTLS, AUTH) listen on the veth
// gateway address the simulated host reaches; the host's curl delivers to them.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as http from "node:http";
import { selfSignedCert } from "../harness/cert";
import { SMTPServer } from "smtp-server";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { startHosts, SimHost } from "../harness/hosts";
import { BASE, hostScript } from "../harness/release";
import { newRelease, deployArgs, verifyArgs, run, waitFor, waitWatchdogGone } from "./helpers";
import { notifyFiles, secretsStdin, SecretFile, NotifySettings } from "../../components/lib/secretFiles";

// Canaries: must appear nowhere on the host but in their root-only files.
const WEBHOOK_TOKEN = "nhs-canary-hook-5e1d0c";
const SMTP_PASSWORD = `nhs-canary-pw-"q'$x;\\y`;
const SMTP_USER = "nhs-alerts";
const COMMIT = "0123456789abcdef0123456789abcdef01234567";

let host: SimHost;
let gateway: string;
let hookServer: http.Server | undefined;
let hookPort = 0;
const hooks: { path: string; body: any }[] = [];
let smtp: SMTPServer;
let smtpPort = 0;
let refuseAuth = false;
const mails: { from: string; to: string[]; data: string; user: string; secure: boolean }[] = [];
let cert: string;

function listenHook(port: number): Promise<number> {
  return new Promise((resolve) => {
    hookServer = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        hooks.push({ path: req.url ?? "", body: JSON.parse(body) });
        res.writeHead(200).end("ok");
      });
    });
    hookServer.listen(port, gateway, () => resolve((hookServer!.address() as { port: number }).port));
  });
}
const closeHook = () => new Promise<void>((r) => (hookServer ? hookServer.close(() => r()) : r()));

function settings(emailEvents: NotifySettings["email"] extends infer E ? (E extends { events: infer V } ? V : never) : never): NotifySettings {
  return {
    webhook: { url: `http://${gateway}:${hookPort}/hooks/${WEBHOOK_TOKEN}`, events: ["success", "failure", "rollback", "watchdog"] },
    email: {
      smtpUrl: `smtp://${gateway}:${smtpPort}`,
      from: "nhs@home.test",
      to: ["ops@home.test", "me@home.test"],
      user: SMTP_USER,
      password: SMTP_PASSWORD,
      caCertificate: cert,
      events: emailEvents,
    },
    retrySeconds: 3,
  };
}

async function installSecrets(hash: string, files: SecretFile[]) {
  const r = await hostScript(host, hash, "secrets.sh", [], { input: secretsStdin(files) });
  expect(r.code, r.stderr).toBe(0);
  return r;
}

async function events(): Promise<any[]> {
  return (await host.mustRun(`cat ${BASE}/events.jsonl`)).split("\n").filter(Boolean).map((l) => JSON.parse(l));
}
const eventsOf = async (id: string) => (await events()).filter((e) => e.deploy_id === id);

async function metrics(): Promise<Map<string, number>> {
  const text = await host.mustRun(`cat ${BASE}/metrics/nixos_deploy.prom`);
  const out = new Map<string, number>();
  for (const f of parsePrometheusTextFormat(text)) {
    for (const m of f.metrics) {
      const labels = Object.entries(m.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
      out.set(labels ? `${f.name}{${labels}}` : f.name, Number(m.value));
    }
  }
  return out;
}

const pendingId = async () => (await host.mustRun(`sed -n 's/^id=//p' ${BASE}/state/pending`)).trim();

beforeAll(async () => {
  [host] = await startHosts(1);
  gateway = host.address.replace(/\.2$/, ".1");
  const tls = selfSignedCert(gateway);
  cert = tls.cert;
  smtp = new SMTPServer({
    key: tls.key,
    cert,
    authMethods: ["PLAIN", "LOGIN"],
    // AUTH only after STARTTLS (the default), so a delivery proves both.
    onAuth(auth, _session, cb) {
      if (!refuseAuth && auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) cb(null, { user: auth.username });
      else cb(new Error("Invalid username or password"));
    },
    onData(stream, session, cb) {
      let data = "";
      stream.on("data", (c: Buffer) => (data += c.toString()));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          data,
          user: String(session.user),
          secure: session.secure,
        });
        cb();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, gateway, () => r()));
  smtpPort = (smtp.server.address() as { port: number }).port;
  hookPort = await listenHook(0);
});

afterAll(async () => {
  await host?.stop();
  await closeHook();
  await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
});

describe("events, metrics and notifications from the host", () => {
  it("a success: tail -f shows the deploy as it happens, the webhook gets it, the metrics match", async () => {
    const h = await newRelease(host);
    await installSecrets(h, notifyFiles(settings(["failure", "rollback", "watchdog"])));
    expect(await host.mustRun(`stat -c '%U %a' ${BASE}/secrets ${BASE}/secrets/nhs-notify-webhook-url ${BASE}/secrets/nhs-notify-smtp-password`)).toBe(
      "root 711\nroot 400\nroot 400\n",
    );
    await host.mustRun(`touch ${BASE}/events.jsonl; (tail -n 0 -f ${BASE}/events.jsonl >/tmp/tail.out 2>&1 & echo $! >/tmp/tail.pid)`);
    const d = await run(host, h, "deploy.sh", [...deployArgs(host, h), "--commit", `${COMMIT}-dirty`]);
    expect(d.code, d.stderr).toBe(0);
    // Before verify runs, the follower already shows the deploy's first two events.
    const seen = async () => (await host.mustRun("cat /tmp/tail.out")).split("\n").filter(Boolean).map((l) => JSON.parse(l).event);
    await waitFor("tail -f to show the deploy", async () => (await seen()).length >= 2, 5000);
    expect(await seen()).toEqual(["deploy-started", "activated"]);
    const v = await run(host, h, "verify.sh", verifyArgs(host));
    expect(v.code, v.stderr).toBe(0);
    await waitFor("verified in tail -f", async () => (await host.mustRun("cat /tmp/tail.out")).includes('"event":"verified"'), 5000);
    await host.mustRun("kill $(cat /tmp/tail.pid)");

    const evs = (await events()).slice(-3);
    expect(evs.map((e) => e.event)).toEqual(["deploy-started", "activated", "verified"]);
    const ok = evs[2];
    expect(ok).toMatchObject({
      server: host.name, result: "ok", generation_from: Number(d.res.previous), generation_to: Number(d.res.generation),
      release: h, commit: COMMIT, dirty: true, mode: "switch", report: `all 7 checks pass on generation ${d.res.generation}`,
    });
    expect(ok.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Object.keys(ok.durations).sort()).toEqual(["activate", "total", "verify"]);
    expect(evs[0].deploy_id).toBe(ok.deploy_id);

    await waitFor("the success webhook", async () => hooks.some((x) => x.body.event.deploy_id === ok.deploy_id), 15_000);
    const hook = hooks.find((x) => x.body.event.deploy_id === ok.deploy_id)!;
    expect(hook.path).toBe(`/hooks/${WEBHOOK_TOKEN}`);
    expect(hook.body.event).toEqual(ok);
    expect(hook.body.text).toContain(`${host.name}: verified (ok) generation ${ok.generation_from} -> ${ok.generation_to}, commit ${COMMIT.slice(0, 12)}`);
    expect(mails).toHaveLength(0); // email is for failures only here

    const m = await metrics();
    expect(m.get('nixos_deploy_last_result{result=success}')).toBe(1);
    expect(m.get('nixos_deploy_last_result{result=rolled-back}')).toBe(0);
    expect(m.get("nixos_deploy_generation")).toBe(ok.generation_to);
    expect(m.get("nixos_deploy_last_success_timestamp_seconds")).toBe(Date.parse(ok.time) / 1000);
    for (const p of ["activate", "verify", "total"]) expect(m.get(`nixos_deploy_duration_seconds{phase=${p}}`)).toBe(ok.durations[p]);
    for (const u of ["nginx.service", "sshd.service"]) {
      const t = m.get(`nixos_deploy_unit_active_enter_timestamp_seconds{unit=${u}}`)!;
      expect(t).toBeGreaterThan(0);
      expect(t).toBeLessThanOrEqual(Date.now() / 1000);
    }
    expect(await host.mustRun(`stat -c '%a' ${BASE}/metrics/nixos_deploy.prom; ls ${BASE}/metrics`)).toBe("644\nnixos_deploy.prom\n");
  });

  it("a verify rollback reaches the webhook and the mailbox (STARTTLS + AUTH)", async () => {
    const h = await newRelease(host);
    const before = await metrics();
    await host.setFault({ kind: "unit-fails", unit: "nginx.service" });
    const d = await run(host, h, "deploy.sh", [...deployArgs(host, h), "--commit", COMMIT]);
    await host.clearFault("unit-fails");
    expect(d.code, d.stderr).toBe(0);
    const id = (await events()).at(-1).deploy_id;
    const v = await run(host, h, "verify.sh", [...verifyArgs(host), "--command", "echo 'a;b' && false"]);
    expect(v.code, v.stderr).toBe(1);
    // The failing command is quoted verbatim (no "; " inserted into it).
    expect(v.res.report).toContain(`command 'echo 'a;b' && false' failed (exit 1): a;b`);
    const rb = (await eventsOf(id)).at(-1);
    expect(rb).toMatchObject({ event: "rolled-back", result: "rolled-back", reason: "verify", generation_from: Number(d.res.generation), generation_to: Number(d.res.previous), commit: COMMIT, dirty: false, report: v.res.report });
    expect(Object.keys(rb.durations).sort()).toEqual(["activate", "rollback", "total", "verify"]);
    await waitFor("the rollback mail and webhook", async () => mails.length === 1 && hooks.some((x) => x.body.event.deploy_id === id), 15_000);
    const mail = mails[0];
    expect(mail).toMatchObject({ from: "nhs@home.test", to: ["ops@home.test", "me@home.test"], user: SMTP_USER, secure: true });
    expect(mail.data).toMatch(new RegExp(`^Subject: \\[nixos-home-server\\] ${host.name}: rolled-back \\(rolled-back, verify\\)`, "m"));
    expect(mail.data).toContain(JSON.stringify(rb));
    const m = await metrics();
    expect(m.get("nixos_deploy_rollbacks_total{reason=verify}")).toBe(before.get("nixos_deploy_rollbacks_total{reason=verify}")! + 1);
    expect(m.get("nixos_deploy_last_result{result=rolled-back}")).toBe(1);
    expect(m.get("nixos_deploy_last_result{result=success}")).toBe(0);
    expect(m.get("nixos_deploy_generation")).toBe(rb.generation_to);
    expect(m.get("nixos_deploy_duration_seconds{phase=rollback}")).toBe(rb.durations.rollback);
  });

  it("a watchdog rollback with the deployer gone is announced by the host alone", async () => {
    const h = await newRelease(host);
    const d = await run(host, h, "deploy.sh", deployArgs(host, h, "switch", 4));
    expect(d.code, d.stderr).toBe(0);
    const id = await pendingId();
    // No SSH session and no deployer from here on.
    await waitFor("the watchdog webhook", async () => hooks.some((x) => x.body.event.deploy_id === id && x.body.event.reason === "watchdog"), 30_000);
    await waitWatchdogGone(host);
    const evs = await eventsOf(id);
    expect(evs.map((e) => e.event)).toEqual(["deploy-started", "activated", "watchdog-fired", "rolled-back"]);
    expect(evs[3]).toMatchObject({ reason: "watchdog", generation_from: Number(d.res.generation), generation_to: Number(d.res.previous) });
    await waitFor("the watchdog mail", async () => mails.some((x) => x.data.includes(id)), 15_000);
    expect((await metrics()).get("nixos_deploy_rollbacks_total{reason=watchdog}")).toBe(1);
    expect(await host.generation()).toBe(Number(d.res.previous));
  });

  it("a webhook that is down: spooled, a notify-failed event, delivered by the retry timer once it is back", async () => {
    await closeHook();
    const h = await newRelease(host);
    const d = await run(host, h, "deploy.sh", deployArgs(host, h));
    expect(d.code, d.stderr).toBe(0);
    const id = await pendingId();
    const v = await run(host, h, "verify.sh", verifyArgs(host));
    expect(v.code, v.stderr).toBe(0);
    await waitFor("notify-failed", async () => (await events()).some((e) => e.event === "notify-failed" && e.deploy_id === id), 15_000);
    const nf = (await events()).find((e) => e.event === "notify-failed" && e.deploy_id === id);
    expect(nf).toMatchObject({ reason: "webhook", result: "failed" });
    expect(nf.report).toMatch(/^webhook notification \S+ not delivered \(attempt 1, kept for retry\): curl exit 7 \(could not connect\)$/);
    expect((await host.mustRun(`ls ${BASE}/notify/spool`)).trim()).toMatch(/\.webhook\.\d+$/);
    expect((await metrics()).get("nixos_deploy_notify_failures_total")).toBeGreaterThanOrEqual(1);
    await listenHook(hookPort);
    await waitFor("the spooled webhook", async () => hooks.some((x) => x.body.event.deploy_id === id && x.body.event.event === "verified"), 20_000);
    await waitFor("an empty spool", async () => (await host.mustRun(`ls ${BASE}/notify/spool`)).trim() === "", 5000);
  });

  it("an SMTP server that refuses AUTH: a notify-failed event, the deploy is unaffected", async () => {
    refuseAuth = true;
    const h = await newRelease(host);
    await installSecrets(h, notifyFiles(settings(["success"])));
    const d = await run(host, h, "deploy.sh", deployArgs(host, h));
    expect(d.code, d.stderr).toBe(0);
    const id = await pendingId();
    const v = await run(host, h, "verify.sh", verifyArgs(host));
    expect(v.code, v.stderr).toBe(0);
    expect(v.res.status).toBe("ok");
    await waitFor("notify-failed (smtp)", async () => (await events()).some((e) => e.event === "notify-failed" && e.reason === "smtp" && e.deploy_id === id), 15_000);
    const nf = (await events()).find((e) => e.event === "notify-failed" && e.reason === "smtp" && e.deploy_id === id);
    expect(nf.report).toMatch(/curl exit 67 \(login denied \(AUTH refused\)\)$/);
    // The webhook still gets it: one channel failing does not hold up the other.
    await waitFor("the webhook", async () => hooks.some((x) => x.body.event.deploy_id === id && x.body.event.event === "verified"), 15_000);
    refuseAuth = false;
    await host.mustRun(`rm -f ${BASE}/notify/spool/*`);
  });

  it("events.jsonl is bounded: past the limit it rotates to events.jsonl.1 (one kept)", async () => {
    const rel = `${BASE}/current/.nhs`;
    const emit = (n: number) => host.mustRun(`NHS_EVENTS_MAX_BYTES=400 sh ${rel}/event.sh received ok '' '' '' 'rotation ${n}'`);
    await emit(1);
    await emit(2); // the file is now past 400 bytes
    await emit(3);
    const cur = (await host.mustRun(`cat ${BASE}/events.jsonl`)).trim().split("\n");
    const old = (await host.mustRun(`cat ${BASE}/events.jsonl.1`)).trim().split("\n");
    expect(cur.map((l) => JSON.parse(l).report)).toEqual(["rotation 3"]);
    expect(JSON.parse(old.at(-1)!).report).toBe("rotation 2");
  });

  it("secrets: changed values restart their units, removed ones disappear; canaries only in root-only files", async () => {
    const h = (await events()).at(-1).release as string;
    const base = notifyFiles(settings(["failure"]));
    const app = (value: string): SecretFile => ({ name: "app-token", owner: "root", group: "root", mode: "0440", restartUnits: ["nginx.service"], value });
    const since = async () => Number((await host.mustRun("systemctl show -P ActiveEnterTimestamp --timestamp=unix nginx.service")).trim().slice(1));
    await installSecrets(h, [...base, app("one")]);
    const t1 = await since();
    await new Promise((r) => setTimeout(r, 1100));
    const same = await installSecrets(h, [...base, app("one")]);
    expect(same.stdout).toContain("changed=- removed=- restarted=-");
    expect(await since()).toBe(t1);
    const changed = await installSecrets(h, [...base, app("two")]);
    expect(changed.stdout).toContain("changed=app-token removed=- restarted=nginx.service");
    expect(await since()).toBeGreaterThan(t1);
    expect(await host.mustRun(`cat ${BASE}/secrets/app-token; stat -c ' %a' ${BASE}/secrets/app-token`)).toBe("two 440\n");
    const removed = await installSecrets(h, base);
    expect(removed.stdout).toContain("removed=app-token");
    expect((await host.run(`test -e ${BASE}/secrets/app-token`)).code).toBe(1);

    // Everything the host wrote or logged: only the two secret files hold a canary.
    const hits = await host.run(
      `grep -rlF -e ${shq(WEBHOOK_TOKEN)} -e ${shq(SMTP_PASSWORD)} /var/lib /etc /tmp /run /home /nix 2>/dev/null | sort`,
    );
    expect(hits.stdout.split("\n").filter(Boolean)).toEqual([`${BASE}/secrets/nhs-notify-smtp-password`, `${BASE}/secrets/nhs-notify-webhook-url`]);

    // The last ones removed from config: the program still sends the (empty) list, which empties the directory.
    const none = await installSecrets(h, []);
    expect(none.stdout).toContain("secrets=0 changed=- removed=nhs-notify-ca.pem,nhs-notify-smtp-password,nhs-notify-webhook-url,nhs-notify.conf");
    expect(await host.mustRun(`ls -A ${BASE}/secrets`)).toBe("");
  });
});

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
