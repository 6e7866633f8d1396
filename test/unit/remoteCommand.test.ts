import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { renderDeploy, renderInstallKey, renderLoginTest, renderSyncBootstrap, renderVerify } from "../../components/lib/remoteCommand";
import { shellQuote } from "../../components/lib/shell";

const H = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const R = `/var/lib/nixos-home-server/releases/${H}`;

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
  it("deploy", () => {
    expect(renderDeploy("deploy", { name: "nixos-prod", hash: H, mode: "switch", confirmTimeoutSeconds: 600, keepGenerations: 10, minFreeMb: 1024 })).toBe(
      `sudo -n sh '${R}/.nhs/deploy.sh' '--name' 'nixos-prod' '--release' '${R}' '--mode' 'switch' '--confirm-timeout' '600' '--keep-generations' '10' '--min-free-mb' '1024'`,
    );
  });

  it("deploy as root has no sudo", () => {
    expect(renderDeploy("root", { name: "a", hash: H, mode: "boot", confirmTimeoutSeconds: 60, keepGenerations: 2, minFreeMb: 0 })).toMatch(/^sh '\/var/);
  });

  it("verify, with every check rendered as quoted arguments", () => {
    expect(
      renderVerify("deploy", {
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
      `sudo -n sh '${R}/.nhs/verify.sh' '--name' 'nixos-prod' '--retries' '5' '--interval' '5' '--timeout' '10' '--unit' 'nginx.service' '--unit' 'postgresql.service' '--http' 'http://localhost/=200' '--command' 'test -d '\\''/srv/samba'\\''' '--journal' 'fail' '--min-free-mb' '1024'`,
    );
  });

  it("verify names the generation Rebuild produced, so a rolled-back deploy cannot pass", () => {
    const args = { name: "a", hash: H, retries: 1, intervalSeconds: 1, timeoutSeconds: 1, units: [], http: [], commands: [], journal: "ignore" as const, minFreeMb: 0 };
    expect(renderVerify("root", { ...args, generation: 43 })).toMatch(/'--min-free-mb' '0' '--generation' '43'$/);
    expect(renderVerify("root", args)).not.toContain("--generation");
  });

  it("sync bootstrap", () => {
    expect(renderSyncBootstrap("deploy", H, 3)).toBe(
      `sudo -n sh -c 'set -eu; b=/var/lib/nixos-home-server; u="$3/.nhs-release-$1.tar.gz"; mkdir -p "$b/tmp"; t=$(mktemp -d "$b/tmp/sync.XXXXXX"); trap "rm -rf \\"\\$t\\"" EXIT; cp "$u" "$t/release.tar.gz"; tar -xzf "$t/release.tar.gz" -C "$t" .nhs/receive.sh; sh "$t/.nhs/receive.sh" "$t/release.tar.gz" "$1" "$2"; for f in "$3"/.nhs-release-*.tar.gz; do [ "$f" = "$u" ] || rm -f "$f"; done' nhs-sync '${H}' '3' "$HOME"`,
    );
  });

  it("login test", () => {
    expect(renderLoginTest("deploy")).toBe("sudo -n true && echo 'nhs-result status=ok login=deploy-key'");
    expect(renderLoginTest("root")).toBe("echo 'nhs-result status=ok login=deploy-key'");
  });

  it("refuses a hash that is not 64 hex digits", () => {
    expect(() => renderSyncBootstrap("deploy", "abc; reboot", 3)).toThrow("release hash must be 64 lowercase hex digits");
  });
});

describe("install-key snippet, run for real in a temporary HOME", () => {
  const line = (k: string) => `no-port-forwarding,no-agent-forwarding,no-X11-forwarding ssh-ed25519 ${k} nhs-deploy@nixos-prod`;
  function run(home: string, key: string): string {
    const r = spawnSync("sh", ["-c", renderInstallKey(line(key), "nhs-deploy@nixos-prod")], { env: { HOME: home, PATH: process.env.PATH }, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    return r.stdout.trim();
  }

  it("installs once, keeps other keys, replaces a rotated key, and is idempotent", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-home-"));
    try {
      const file = path.join(home, ".ssh", "authorized_keys");
      fs.mkdirSync(path.dirname(file));
      fs.writeFileSync(file, "ssh-ed25519 ADMIN admin@laptop"); // no trailing newline
      expect(run(home, "AAAA1")).toBe("nhs-result status=ok key=installed");
      expect(fs.readFileSync(file, "utf8")).toBe(`ssh-ed25519 ADMIN admin@laptop\n${line("AAAA1")}\n`);
      expect(run(home, "AAAA1")).toBe("nhs-result status=ok key=present");
      expect(run(home, "AAAA2")).toBe("nhs-result status=ok key=installed");
      expect(fs.readFileSync(file, "utf8")).toBe(`ssh-ed25519 ADMIN admin@laptop\n${line("AAAA2")}\n`);
      expect(fs.readdirSync(path.dirname(file))).toEqual(["authorized_keys"]); // no temp file left
      expect(fs.statSync(file).mode & 0o077).toBe(0);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("creates ~/.ssh when missing", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-home-"));
    try {
      expect(run(home, "AAAA1")).toBe("nhs-result status=ok key=installed");
      expect(fs.readFileSync(path.join(home, ".ssh/authorized_keys"), "utf8")).toBe(`${line("AAAA1")}\n`);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("inline snippets pass shellcheck", () => {
  // The body of `sh -c '<body>'`, unquoted exactly as the remote shell sees it.
  function body(command: string): string {
    const m = command.match(/sh -c ('(?:[^']|'\\'')*')/);
    if (!m) throw new Error(`no sh -c in ${command}`);
    return execFileSync("sh", ["-c", `printf %s ${m[1]}`], { encoding: "utf8" });
  }
  it.each([
    ["sync bootstrap", renderSyncBootstrap("deploy", H, 3)],
    ["install key", renderInstallKey("ssh-ed25519 AAAA nhs-deploy@x", "nhs-deploy@x")],
  ])("%s", (_label, command) => {
    const r = spawnSync("shellcheck", ["-s", "sh", "-"], { input: `#!/bin/sh\n${body(command)}\n`, encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });
});
