// Every shell file we ship or run on hosts must be shellcheck-clean.
import { describe, it, expect } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { exec } from "../harness/exec";

const root = path.join(__dirname, "..", "..");
const dirs = ["components/host", "test/harness/sim"];

describe("shellcheck", () => {
  const files = dirs.flatMap((d) =>
    fs.readdirSync(path.join(root, d)).filter((f) => f.endsWith(".sh")).map((f) => path.join(d, f)),
  );
  it("finds the scripts", () => {
    expect(files).toContain("components/host/deploy.sh");
    expect(files).toContain("test/harness/sim/nixos-rebuild.sh");
  });
  it.each(files)("%s is clean (POSIX sh)", async (f) => {
    const r = await exec("shellcheck", ["-x", "-s", "sh", path.join(root, f)]);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
    const text = fs.readFileSync(path.join(root, f), "utf8");
    expect(text).toMatch(/^#!\/bin\/sh\n/);
    if (!f.endsWith("lib.sh") && !f.endsWith("units.sh")) expect(text).toMatch(/^set -eu$/m);
    for (const m of text.matchAll(/mktemp/g)) expect(text.slice(m.index)).toMatch(/trap 'rm -rf "\$tmp/);
  });
});
