// Every shell file in the repo is shellcheck-clean POSIX sh, and the CI workflow passes actionlint.
import { describe, it, expect } from "vitest";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { exec } from "./harness/exec";

const root = path.join(__dirname, "..");

/** Tracked and new files that are shell: *.sh, plus executables whose first line is #!/bin/sh. */
function shellFiles(): string[] {
  const listed = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" })
    .split("\n")
    .filter((f) => f !== "" && fs.existsSync(path.join(root, f)));
  return listed.filter((f) => f.endsWith(".sh") || fs.readFileSync(path.join(root, f), "utf8").startsWith("#!/bin/sh\n")).sort();
}

describe("shellcheck", () => {
  const files = shellFiles();
  it("finds the scripts", () => {
    for (const f of ["components/host/deploy.sh", "test/harness/sim/nixos-rebuild.sh", "scripts/setup.sh", "scripts/ci/deploy.sh", ".ci/run", "tools/providers/command/pulumi-resource-command"]) {
      expect(files).toContain(f);
    }
  });
  it.each(files)("%s is clean (POSIX sh)", async (f) => {
    const r = await exec("shellcheck", ["-x", "-s", "sh", path.join(root, f)], { cwd: path.dirname(path.join(root, f)) });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
    const text = fs.readFileSync(path.join(root, f), "utf8");
    expect(text).toMatch(/^#!\/bin\/sh\n/);
    // Host-side scripts: set -eu, and every mktemp paired with its cleanup.
    if (f.startsWith("components/host/") || f.startsWith("test/harness/sim/")) {
      // Sourced helpers (lib.sh, events.sh, units.sh) run under their caller's options.
      if (!/(lib|events|units)\.sh$/.test(f)) expect(text).toMatch(/^set -eu$/m);
      for (const m of text.matchAll(/mktemp/g)) expect(text.slice(m.index)).toMatch(/trap 'rm -rf "\$tmp/);
    }
  });
});

describe("actionlint", () => {
  it("passes the CI workflow (and shellchecks its run: steps)", async () => {
    const r = await exec(path.join(root, "tools", "actionlint.sh"), [], { cwd: root, timeoutMs: 300_000 });
    expect(r.stdout + r.stderr).not.toMatch(/\.github\/workflows\/.*:\d+:\d+:/);
    expect(r.code).toBe(0);
  });
});
