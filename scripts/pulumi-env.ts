// One source of truth for how this project runs Pulumi: the `npm run pulumi` wrapper,
// tests and Automation API callers all take their environment from here, so the CLI
// never touches ~/.pulumi and never tries the network for plugins or updates.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const PULUMI_VERSION = "v3.248.0";

/** The repository root (this file lives in <repo>/scripts). */
export function repoRoot(): string {
  return path.resolve(__dirname, "..");
}

/** `${NHS_CACHE:-~/.cache/nixos-home-server}/pulumi-v3.248.0`, keyed by the pinned CLI version. */
export function toolchainRoot(): string {
  const cache = process.env.NHS_CACHE || path.join(os.homedir(), ".cache", "nixos-home-server");
  return path.join(cache, `pulumi-${PULUMI_VERSION}`);
}

/** The cache bin dir holding pulumi and the plugins built by tools/pulumi/build.sh. */
export function toolchainBin(): string {
  return path.join(toolchainRoot(), "bin");
}

/** Full path of the cached pulumi CLI. */
export function pulumiExecutable(): string {
  return path.join(toolchainBin(), "pulumi");
}

/**
 * The environment to run Pulumi with (merge over process.env). PULUMI_BACKEND_URL keeps
 * a value the user already set; everything else is forced so nothing reaches ~/.pulumi
 * or the network.
 */
export function pulumiEnv(root: string): Record<string, string> {
  const stateDir = path.join(root, ".pulumi-state");
  const backend = process.env.PULUMI_BACKEND_URL || `file://${stateDir}`;
  if (backend === `file://${stateDir}`) fs.mkdirSync(stateDir, { recursive: true });
  // Plugins (the stand-in providers and @pulumi/pulumi's dynamic-provider plugin) are
  // registered in PULUMI_HOME by tools/providers/install.sh, not put on PATH.
  const pathParts = [toolchainBin(), process.env.PATH ?? ""].filter((p) => p !== "");
  return {
    // State size (file and S3 backends): every update copies the whole checkpoint into history/, and
    // by default a second time into backups/. Keep one copy, gzip'd. The user's own setting wins.
    PULUMI_DIY_BACKEND_GZIP: process.env.PULUMI_DIY_BACKEND_GZIP ?? "true",
    PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS: process.env.PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS ?? "true",
    PULUMI_HOME: path.join(root, ".pulumi"),
    PULUMI_BACKEND_URL: backend,
    // ts-node type-checks the program by default: about 2 s whenever its cache misses (a new checkout,
    // CI, any edited .ts). `npm test` runs tsc over the same files, so deploys only transpile.
    PULUMI_NODEJS_TRANSPILE_ONLY: process.env.PULUMI_NODEJS_TRANSPILE_ONLY ?? "true",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PATH: pathParts.join(path.delimiter),
  };
}

/** True when the CLI is cached (build.sh records the version it built beside it). */
export function toolchainReady(): boolean {
  try {
    const stamp = fs.readFileSync(path.join(toolchainBin(), ".pulumi.version"), "utf8").trim();
    fs.accessSync(pulumiExecutable(), fs.constants.X_OK);
    const plugins = path.join(repoRoot(), ".pulumi", "plugins");
    const registered = ["resource-command-v1.2.1", "resource-random-v4.21.2", "resource-pulumi-nodejs-v3.248.0"].every((d) => fs.existsSync(path.join(plugins, d)));
    return stamp === PULUMI_VERSION && registered && fs.existsSync(path.join(toolchainBin(), "pulumi-language-nodejs"));
  } catch {
    return false;
  }
}

/** Builds the toolchain with tools/pulumi/build.sh unless it is already cached. */
export function ensureToolchain(root: string = repoRoot()): void {
  if (toolchainReady()) return;
  const result = spawnSync(path.join(root, "tools", "pulumi", "build.sh"), [], { stdio: "inherit" });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`tools/pulumi/build.sh failed with exit code ${result.status ?? result.signal}`);
  }
}
