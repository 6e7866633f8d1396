// `npm run pulumi -- <args>`: the offline Pulumi CLI with the project's environment
// (scripts/pulumi-env.ts). npm starts scripts at the package root, so the CLI runs in
// the directory the user typed the command in (INIT_CWD), like a plain `pulumi`.
import { spawn } from "node:child_process";
import * as os from "node:os";
import { ensureToolchain, pulumiEnv, pulumiExecutable, repoRoot } from "./pulumi-env";

function main(): void {
  const root = repoRoot();
  ensureToolchain(root);
  const child = spawn(pulumiExecutable(), process.argv.slice(2), {
    cwd: process.env.INIT_CWD || process.cwd(),
    env: { ...process.env, ...pulumiEnv(root) },
    stdio: "inherit",
  });
  // The terminal sends Ctrl-C to the whole process group; pulumi handles it itself
  // (a second one cancels), so the wrapper just waits for it.
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => child.kill("SIGTERM"));
  child.on("error", (err) => {
    console.error(`pulumi: cannot start ${pulumiExecutable()}: ${err.message}`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + signalNumber(signal) : 1)));
}

function signalNumber(signal: NodeJS.Signals): number {
  return os.constants.signals[signal] ?? 1;
}

main();
