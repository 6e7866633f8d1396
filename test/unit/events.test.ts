// Pure parts of events, notifications and secrets: commit record, secrets.sh stdin, notify files,
// the lastEvent summary and the config schema.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { commitLabel, gitCommit, parseGitCommit } from "../../components/lib/gitCommit";
import { notifyFiles, secretsStdin } from "../../components/lib/secretFiles";
import { parseDurations, summarizeLastEvent } from "../../components/lib/eventSummary";
import { effectiveNotify, parseStackConfig } from "../../components/config";
import { server } from "./fixtures";

const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("gitCommit", () => {
  it("parses rev-parse and porcelain output", () => {
    expect(parseGitCommit(`${SHA}\n`, "")).toEqual({ commit: SHA, dirty: false });
    expect(parseGitCommit(SHA, " M nixos/x.nix\n")).toEqual({ commit: SHA, dirty: true });
    expect(parseGitCommit(null, null)).toEqual({ commit: "unknown", dirty: false });
    expect(parseGitCommit("", "")).toEqual({ commit: "unknown", dirty: false });
    expect(commitLabel({ commit: SHA, dirty: true })).toBe(`${SHA}-dirty`);
    expect(commitLabel({ commit: "unknown", dirty: true })).toBe("unknown");
  });

  it("records the last commit of the given paths and their uncommitted changes, in a real repository", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-git-"));
    try {
      const git = (...a: string[]) => execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", ...a], { encoding: "utf8" }).trim();
      expect(gitCommit(dir)).toEqual({ commit: "unknown", dirty: false });
      git("init", "-q");
      fs.mkdirSync(path.join(dir, "nixos"));
      fs.writeFileSync(path.join(dir, "nixos", "a.nix"), "{}\n");
      git("add", "-A");
      git("commit", "-qm", "one");
      const one = git("rev-parse", "HEAD");
      expect(gitCommit(dir, ["nixos"])).toEqual({ commit: one, dirty: false });
      fs.writeFileSync(path.join(dir, "README.md"), "docs\n");
      git("add", "-A");
      git("commit", "-qm", "docs only");
      // A commit outside the release's sources leaves its record alone (no redeploy).
      expect(gitCommit(dir, ["nixos"])).toEqual({ commit: one, dirty: false });
      fs.writeFileSync(path.join(dir, "nixos", "a.nix"), "{ x = 1; }\n");
      expect(gitCommit(dir, ["nixos"])).toEqual({ commit: one, dirty: true });
      expect(gitCommit(dir).commit).toBe(git("rev-parse", "HEAD"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("secret files", () => {
  it("renders secrets.sh's stdin with values in base64 only", () => {
    const value = `pw with "quotes" $x ; \\ and\nnewline`;
    const out = secretsStdin([{ name: "db", owner: "postgres", group: "postgres", mode: "0440", restartUnits: ["postgresql.service", "x.service"], value }]);
    expect(out).toBe(`db\tpostgres\tpostgres\t0440\tpostgresql.service,x.service\t${Buffer.from(value).toString("base64")}\n`);
    expect(out.includes("quotes")).toBe(false);
    expect(() => secretsStdin([{ name: "a b", owner: "root", group: "root", mode: "0400", restartUnits: [], value: "" }])).toThrow(/name must not contain spaces/);
  });

  it("keeps notification credentials in their own root-only files, out of nhs-notify.conf", () => {
    const files = notifyFiles({
      webhook: { url: "https://hooks.test/secret", events: ["success", "watchdog"] },
      email: { smtpUrl: "smtp://mail:587", from: "a@b", to: ["c@d", "e@f"], user: "u", password: "pw", events: ["failure"] },
      retrySeconds: 60,
    });
    expect(files.map((f) => [f.name, f.owner, f.mode])).toEqual([
      ["nhs-notify.conf", "root", "0400"],
      ["nhs-notify-webhook-url", "root", "0400"],
      ["nhs-notify-smtp-password", "root", "0400"],
    ]);
    expect(files[0].value).toBe(
      "webhook_events=success,watchdog\nsmtp_events=failure\nsmtp_url=smtp://mail:587\nsmtp_from=a@b\nsmtp_to=c@d,e@f\nsmtp_user=u\nretry_seconds=60\n",
    );
  });
});

describe("lastEvent summary", () => {
  const deploy = "nhs-result status=ok previous=4 generation=5 store=/nix/store/x duration=9 watchdog=armed";
  it("reads the event fields verify's result line carries", () => {
    const verify = `nhs-result status=rolled-back previous=5 generation=4 failed=nginx.service event=rolled-back durations=activate:9,verify:3,rollback:2,total:15 commit=${SHA}-dirty report=nginx.service failed; rolled back`;
    expect(summarizeLastEvent(deploy, verify, "h")).toEqual({
      event: "rolled-back", result: "rolled-back", generationFrom: 5, generationTo: 4,
      durations: { activate: 9, verify: 3, rollback: 2, total: 15 }, commit: `${SHA}-dirty`,
    });
    expect(parseDurations("-")).toEqual({});
  });
  it("falls back to the rebuild's result when verify had nothing pending", () => {
    expect(summarizeLastEvent(deploy, "nhs-result status=ok generation=5 checks=3 report=ok", "h")).toEqual({
      event: "verified", result: "ok", generationFrom: 4, generationTo: 5, durations: { activate: 9 }, commit: "unknown",
    });
  });
});

describe("config: notify and secrets", () => {
  const ctx = { hostDirectories: ["nixos-staging", "nixos-prod"], configKeys: new Set(["nixos-home-server:hook", "nixos-home-server:pw", "nixos-home-server:db"]) };
  const notify = {
    webhook: { url: { secretKey: "hook" } },
    email: { smtpUrl: "smtp://mail.home.arpa:587", from: "nhs@home.arpa", to: ["me@home.arpa"], user: "nhs", password: { secretKey: "pw" } },
  };

  it("merges a server's notify over fleet.notify key by key, with default events", () => {
    const c = parseStackConfig(
      { servers: [server("nixos-staging", { notify: { webhook: { url: { secretKey: "hook" }, events: ["watchdog"] } } }), server("nixos-prod")], fleet: { notify } },
      ctx,
    );
    const staging = effectiveNotify(c.servers[0], c.fleet)!;
    expect(staging.webhook!.events).toEqual(["watchdog"]);
    expect(staging.email!.events).toEqual(["failure", "rollback", "watchdog"]);
    expect(effectiveNotify(c.servers[1], c.fleet)!.webhook!.events).toEqual(["success", "failure", "rollback", "watchdog"]);
    const fleetRetry = parseStackConfig({ servers: [server("nixos-prod", { notify: { email: notify.email } })], fleet: { notify: { ...notify, retrySeconds: 60 } } }, ctx);
    expect(effectiveNotify(fleetRetry.servers[0], fleetRetry.fleet)!.retrySeconds).toBe(60);
    expect(effectiveNotify(parseStackConfig({ servers: [server("nixos-prod")], fleet: {} }, ctx).servers[0], { deployFrom: [], keepReleases: 3, keepGenerations: 10, parallelism: 1 })).toBeUndefined();
  });

  it("rejects inline credentials, unknown events, unset secret keys and reserved names, naming each", () => {
    const bad = () =>
      parseStackConfig(
        {
          servers: [
            server("nixos-staging", {
              secrets: [{ name: "nhs-x", secretKey: "nope", mode: "644x" }],
              notify: { webhook: { url: "https://inline" } },
            }),
          ],
          fleet: { notify: { email: { ...notify.email, password: "inline", smtpUrl: "http://x" } } },
        },
        ctx,
      );
    expect(bad).toThrow(/fleet: notify\.email\.smtpUrl: must be smtp:\/\/host\[:port\]/);
    expect(bad).toThrow(/fleet: notify\.email\.password: must be \{ secretKey: "<config key>" \}; never put the SMTP password inline/);
    expect(bad).toThrow(/servers\[0\] "nixos-staging": secrets\[0\]\.name: names starting with "nhs-" are reserved/);
    expect(bad).toThrow(/secrets\[0\]\.mode: must be an octal mode/);
    expect(bad).toThrow(/notify\.webhook\.url: must be \{ secretKey: "<config key>" \}; never put the webhook URL inline/);
    expect(() =>
      parseStackConfig({ servers: [server("nixos-staging", { notify: { webhook: { url: { secretKey: "hook" }, events: ["sometimes"] } } })], fleet: {} }, ctx),
    ).toThrow(/notify\.webhook\.events\[0\]: must be one of success, failure, rollback, watchdog/);
    expect(() =>
      parseStackConfig({ servers: [server("nixos-staging", { secrets: [{ name: "db", secretKey: "db" }, { name: "db", secretKey: "db" }] })], fleet: {} }, ctx),
    ).toThrow(/secrets\[1\]\.name: duplicate secret name "db"/);
    expect(() =>
      parseStackConfig({ servers: [server("nixos-staging", { secrets: [{ name: "db", secretKey: "missing" }] })], fleet: {} }, ctx),
    ).toThrow(/secrets\[0\]\.secretKey: config key "nixos-home-server:missing" is not set; run `pulumi config set --secret missing <value>`/);
  });
});

describe("CI job summary", () => {
  it("renders each server's lastEvent as a Markdown table row", async () => {
    const mod = "../../scripts/ci/event-summary.mjs";
    const { eventTable } = (await import(mod)) as { eventTable: (stack: string, servers: unknown) => string };
    const table = eventTable("production", {
      "nixos-prod": { lastEvent: { event: "rolled-back", result: "rolled-back", generationFrom: 5, generationTo: 4, durations: { total: 12, activate: 9, rollback: 2 }, commit: `${SHA}-dirty` } },
      "nixos-old": {},
    });
    expect(table.split("\n")).toEqual([
      "### Last deploy events: production",
      "",
      "| server | event | result | generation | durations | commit |",
      "|---|---|---|---|---|---|",
      "| nixos-prod | rolled-back | rolled-back | 5 → 4 | activate 9s, rollback 2s, total 12s | 0123456789ab (dirty) |",
      "| nixos-old | – | – | – → – | – | – |",
      "",
    ]);
  });
});
