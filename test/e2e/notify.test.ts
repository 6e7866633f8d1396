// End to end: fleet.notify and its secrets through the real engine. A `pulumi up` ends with the
// host's own webhook and mail (STARTTLS + AUTH), the lastEvent output, and canary credentials that
// appear nowhere but in encrypted state and their root-only files on the host.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as http from "node:http";
import { execFileSync } from "node:child_process";
import { selfSignedCert } from "../harness/cert";
import { SMTPServer } from "smtp-server";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject } from "../harness/project";
import { BASE } from "../harness/release";
import { waitFor } from "../host/helpers";

const HOOK_TOKEN = "e2e-canary-hook-91ab7";
const SMTP_PASSWORD = `e2e-canary-pw-'"$;\\z`;
let host: SimHost;
let project: E2EProject;
let hook: http.Server;
let smtp: SMTPServer;
const hooks: any[] = [];
const mails: string[] = [];

beforeAll(async () => {
  [host] = await startHosts(1, { names: ["ntf1"] });
  const gateway = host.address.replace(/\.2$/, ".1");
  const tls = selfSignedCert(gateway);
  const cert = tls.cert;
  hook = http.createServer((req, res) => {
    let b = "";
    req.on("data", (c) => (b += c));
    req.on("end", () => {
      hooks.push({ path: req.url, body: JSON.parse(b) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, gateway, () => r()));
  smtp = new SMTPServer({
    key: tls.key,
    cert,
    onAuth: (a, _s, cb) => (a.username === "nhs" && a.password === SMTP_PASSWORD ? cb(null, { user: "nhs" }) : cb(new Error("denied"))),
    onData: (stream, _s, cb) => {
      let d = "";
      stream.on("data", (c: Buffer) => (d += c.toString()));
      stream.on("end", () => {
        mails.push(d);
        cb();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, gateway, () => r()));
  const hookPort = (hook.address() as { port: number }).port;
  const smtpPort = (smtp.server.address() as { port: number }).port;
  project = await E2EProject.create([host], {
    stack: "notify",
    fleet: {
      notify: {
        webhook: { url: { secretKey: "hookUrl" } },
        email: { smtpUrl: `smtp://${gateway}:${smtpPort}`, from: "nhs@home.test", to: ["ops@home.test"], user: "nhs", password: { secretKey: "smtpPassword" }, caCertificate: cert, events: ["success"] },
      },
    },
    secrets: { hookUrl: `http://${gateway}:${hookPort}/services/${HOOK_TOKEN}`, smtpPassword: SMTP_PASSWORD },
  });
});

afterAll(async () => {
  await project?.remove();
  await host?.stop();
  hook?.close();
  await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
});

describe("notifications end to end", () => {
  it("up: the host announces the deploy itself, lastEvent summarizes it, and the credentials stay secret", async () => {
    const r = await project.up();
    expect(r.error ?? "").toBe("");
    const out = (await project.outputs()).servers[host.name];
    expect(out.lastEvent).toMatchObject({ event: "verified", result: "ok", generationTo: out.generation, generationFrom: out.generation - 1 });
    expect(out.lastEvent.durations).toEqual({ activate: expect.any(Number), verify: expect.any(Number), total: expect.any(Number) });
    expect(out.lastEvent.commit).toMatch(/^([0-9a-f]{40}(-dirty)?|unknown)$/);
    await waitFor("webhook and mail", async () => hooks.length > 0 && mails.length > 0, 20_000);
    expect(hooks[0].path).toBe(`/services/${HOOK_TOKEN}`);
    expect(hooks[0].body.event).toMatchObject({ server: host.name, event: "verified", generation_to: out.generation });
    expect(mails[0]).toContain(`"event":"verified"`);

    // Everything outside encrypted state: run output, outputs, plaintext export, state files, the host.
    const cli = project.spawnCli(["stack", "export", "--stack", project.stackName]);
    let exportText = "";
    cli.stdout!.on("data", (c) => (exportText += c));
    await new Promise((res) => cli.on("close", res));
    expect(exportText).toContain("nixos-home-server:index:NixosServer");
    const stateFiles = execFileSync("sh", ["-c", `cat $(find '${project.stateDir}' -type f)`], { encoding: "utf8", maxBuffer: 64 << 20 });
    const texts = { output: r.output, outputs: JSON.stringify(await project.outputs()), export: exportText, state: stateFiles };
    for (const [where, text] of Object.entries(texts)) {
      for (const canary of [HOOK_TOKEN, SMTP_PASSWORD, Buffer.from(SMTP_PASSWORD).toString("base64")]) expect(text.includes(canary), `${canary} in ${where}`).toBe(false);
    }
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const hits = await host.run(`grep -rlF -e ${q(HOOK_TOKEN)} -e ${q(SMTP_PASSWORD)} /var/lib /etc /tmp /run /home /nix 2>/dev/null | sort`);
    expect(hits.stdout.split("\n").filter(Boolean)).toEqual([`${BASE}/secrets/nhs-notify-smtp-password`, `${BASE}/secrets/nhs-notify-webhook-url`]);
  });
});
