import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { renderAuthorize, renderDeploy, renderInstallKey, renderSyncBootstrap, renderVerify, renderVerb, uploadName } from "../../components/lib/remoteCommand";
import { shellQuote } from "../../components/lib/shell";

const H = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const R = `/var/lib/nixos-home-server/releases/${H}`;
const D = "/var/lib/nixos-home-server/dispatch";

describe("shellQuote", () => {
  it("single-quotes and survives a round trip through sh", () => {
    expect(shellQuote("a b")).toBe("'a b'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    for (const v of ["$(id)", "`id`", "a'b\"c", "x;y|z&", "\\n", ""]) {
      expect(execFileSync("sh", ["-c", `printf %s ${shellQuote(v)}`], { encoding: "utf8" })).toBe(v);
    }
  });
});

describe("rendered command lines (exact)", () => {
  it("deploy: the dispatcher's verb, the release hash, then deploy.sh's arguments", () => {
    expect(renderDeploy({ name: "nixos-prod", hash: H, mode: "switch", confirmTimeoutSeconds: 600, activationTimeoutSeconds: 1800, keepGenerations: 10, minFreeMb: 1024 })).toBe(
      `${D} deploy '${H}' '--name' 'nixos-prod' '--release' '${R}' '--mode' 'switch' '--confirm-timeout' '600' '--activation-timeout' '1800' '--keep-generations' '10' '--min-free-mb' '1024'`,
    );
  });

  it("verify, with every check rendered as quoted arguments", () => {
    expect(
      renderVerify({
        name: "nixos-prod",
        hash: H,
        retries: 5,
        intervalSeconds: 5,
        timeoutSeconds: 10,
        units: ["nginx.service", "postgresql.service"],
        http: [{ url: "http://localhost/", status: 200 }],
        commands: ["test -d '/srv/samba'"],
        journal: "fail",
        minFreeMb: 1024,
      }),
    ).toBe(
      `${D} verify '${H}' '--name' 'nixos-prod' '--retries' '5' '--interval' '5' '--timeout' '10' '--unit' 'nginx.service' '--unit' 'postgresql.service' '--http' 'http://localhost/=200' '--command' 'test -d '\\''/srv/samba'\\''' '--journal' 'fail' '--min-free-mb' '1024'`,
    );
  });

  it("verify names the generation Rebuild produced, so a rolled-back deploy cannot pass", () => {
    const args = { name: "a", hash: H, retries: 1, intervalSeconds: 1, timeoutSeconds: 1, units: [], http: [], commands: [], journal: "ignore" as const, minFreeMb: 0 };
    expect(renderVerify({ ...args, generation: 43 })).toMatch(/'--min-free-mb' '0' '--generation' '43'$/);
    expect(renderVerify(args)).not.toContain("--generation");
  });

  it("sync: the receive verb; the tarball is the upload in the SSH user's home", () => {
    expect(renderSyncBootstrap(H, 3)).toBe(`${D} receive '${H}' '3'`);
    expect(uploadName(H)).toBe(`.nhs-release-${H}.tar.gz`);
  });

  it("login test and rotation: the authorize verb with the key's base64 and deployFrom", () => {
    expect(renderAuthorize("ssh-ed25519 AAAAC3x nhs-deploy@s/a", [])).toBe(`${D} authorize 'AAAAC3x'`);
    expect(renderAuthorize("ssh-ed25519 AAAAC3x nhs-deploy@s/a", ["10.0.0.0/8", "fd00::/8"])).toBe(`${D} authorize 'AAAAC3x' '10.0.0.0/8,fd00::/8'`);
    expect(renderVerb("status")).toBe(`${D} status`);
  });

  it("refuses a hash that is not 64 hex digits", () => {
    expect(() => renderSyncBootstrap("abc; reboot", 3)).toThrow("release hash must be 64 lowercase hex digits");
  });
});

describe("install-key snippet, run for real in a temporary HOME", () => {
  const M = "nhs-deploy@prod/nixos-prod";
  const line = (k: string, m = M) => `restrict,command="${D} --key ${m}" ssh-ed25519 ${k} ${m}`;
  function run(home: string, keys: string[], m = M): string {
    // An existing file stands for the dispatcher, so the snippet needs no sudo here.
    const r = spawnSync("sh", ["-c", renderInstallKey("deploy", keys.map((k) => line(k, m)), m).replace(`[ ! -e ${D} ]`, "[ ! -e / ]")], {
      env: { HOME: home, PATH: process.env.PATH },
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    return r.stdout.trim();
  }

  it("installs once, keeps other keys and other stacks' keys, replaces a rotated key, and is idempotent", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-home-"));
    try {
      const file = path.join(home, ".ssh", "authorized_keys");
      fs.mkdirSync(path.dirname(file));
      // A key line from before keys were per stack (no forced command) goes; no trailing newline after the admin's.
      fs.writeFileSync(file, "no-port-forwarding ssh-ed25519 OLD nhs-deploy@nixos-prod\nssh-ed25519 ADMIN admin@laptop");
      expect(run(home, ["AAAA1"])).toBe("nhs-result status=ok key=installed");
      expect(fs.readFileSync(file, "utf8")).toBe(`ssh-ed25519 ADMIN admin@laptop\n${line("AAAA1")}\n`);
      expect(run(home, ["AAAA1"])).toBe("nhs-result status=ok key=present");
      // Another stack's key for the same server name stays.
      const other = "nhs-deploy@staging/nixos-prod";
      expect(run(home, ["BBBB1"], other)).toBe("nhs-result status=ok key=installed");
      expect(run(home, ["AAAA2"])).toBe("nhs-result status=ok key=installed");
      expect(fs.readFileSync(file, "utf8")).toBe(`ssh-ed25519 ADMIN admin@laptop\n${line("BBBB1", other)}\n${line("AAAA2")}\n`);
      expect(fs.readdirSync(path.dirname(file))).toEqual(["authorized_keys"]); // no temp file or lock left
      expect(fs.statSync(file).mode & 0o077).toBe(0);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("creates ~/.ssh when missing, and installs both keys of a first install at a later rotation", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-home-"));
    try {
      expect(run(home, ["AAAA1", "AAAA2"])).toBe("nhs-result status=ok key=installed");
      expect(fs.readFileSync(path.join(home, ".ssh/authorized_keys"), "utf8")).toBe(`${line("AAAA1")}\n${line("AAAA2")}\n`);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("refuses a line that does not end in the marker", () => {
    expect(() => renderInstallKey("deploy", [line("A", "nhs-deploy@x/y")], M)).toThrow(`authorized_keys line must end with the marker ${M}`);
  });
});

describe("inline snippets pass shellcheck", () => {
  const line0 = `restrict,command="${D} --key nhs-deploy@s/x" ssh-ed25519 AAAA nhs-deploy@s/x`;
  // The body of `sh -c '<body>'`, unquoted exactly as the remote shell sees it.
  function body(command: string): string {
    const m = command.match(/sh -c ('(?:[^']|'\\'')*')/);
    if (!m) throw new Error(`no sh -c in ${command}`);
    return execFileSync("sh", ["-c", `printf %s ${m[1]}`], { encoding: "utf8" });
  }
  it.each([
    ["install key", renderInstallKey("deploy", [line0], "nhs-deploy@s/x")],
    ["install dispatcher", renderInstallKey("deploy", [line0], "nhs-deploy@s/x").replace(/^.*sudo -n (sh -c '(?:[^']|'\\'')*').*$/, "$1")],
  ])("%s", (_label, command) => {
    const r = spawnSync("shellcheck", ["-s", "sh", "-"], { input: `#!/bin/sh\n${body(command)}\n`, encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });
});
