// build.sh and the `npm run pulumi` wrapper, run for real against the cached toolchain.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PULUMI_VERSION, pulumiEnv, repoRoot, toolchainBin, toolchainReady } from "../../scripts/pulumi-env";

const root = repoRoot();
const buildSh = path.join(root, "tools", "pulumi", "build.sh");

describe("tools/pulumi/build.sh", () => {
  it("is shellcheck-clean POSIX sh", () => {
    const r = spawnSync("shellcheck", ["--shell=sh", buildSh], { encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("is a fast no-op when the toolchain is cached", () => {
    expect(toolchainReady()).toBe(true);
    const start = Date.now();
    const r = spawnSync(buildSh, [], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(Date.now() - start).toBeLessThan(5000);
    expect(r.stderr).toContain(`pulumi-toolchain: pulumi ${PULUMI_VERSION}: cached`);
    expect(r.stderr).not.toContain("building");
  });
});

describe("pulumiEnv", () => {
  const saved = process.env.PULUMI_BACKEND_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.PULUMI_BACKEND_URL;
    else process.env.PULUMI_BACKEND_URL = saved;
  });

  it("keeps Pulumi inside the repo and off the network", () => {
    delete process.env.PULUMI_BACKEND_URL;
    const env = pulumiEnv(root);
    expect(env.PULUMI_HOME).toBe(path.join(root, ".pulumi"));
    expect(env.PULUMI_BACKEND_URL).toBe(`file://${path.join(root, ".pulumi-state")}`);
    expect(fs.statSync(path.join(root, ".pulumi-state")).isDirectory()).toBe(true);
    expect(env.PULUMI_SKIP_UPDATE_CHECK).toBe("true");
    expect(env.PULUMI_NODEJS_TRANSPILE_ONLY).toBe("true");
    expect(env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION).toBe("true");
    expect(env.PATH.split(path.delimiter)[0]).toBe(toolchainBin());
  });

  it("keeps a backend the user chose", () => {
    process.env.PULUMI_BACKEND_URL = "s3://some-bucket";
    expect(pulumiEnv(root).PULUMI_BACKEND_URL).toBe("s3://some-bucket");
  });
});

describe("npm run pulumi", () => {
  // `npm [--prefix root] run pulumi -- args` from cwd, with no Pulumi variables inherited.
  function npmPulumi(cwd: string, prefix: string | null, ...args: string[]) {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith("PULUMI_") || k === "INIT_CWD") delete env[k];
    const npmArgs = [...(prefix ? ["--prefix", prefix] : []), "run", "--silent", "pulumi", "--", ...args];
    return spawnSync("npm", npmArgs, { cwd, env, encoding: "utf8" });
  }

  it("prints the pinned version from a subdirectory", () => {
    const r = npmPulumi(path.join(root, "tools", "pulumi"), null, "version");
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(PULUMI_VERSION);
    expect(r.status).toBe(0);
  });

  it("runs the CLI in the caller's directory, not the package root", () => {
    // npm --prefix runs the script at the package root but records the caller's
    // directory in INIT_CWD; the CLI must search for Pulumi.yaml from there.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-cwd-"));
    try {
      const r = npmPulumi(dir, root, "stack", "ls");
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`no Pulumi.yaml project file found (searching upwards from ${dir})`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
