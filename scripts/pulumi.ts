// `npm run pulumi -- <args>`: the offline Pulumi CLI with the project's environment
// (scripts/pulumi-env.ts). npm starts scripts at the package root, so the CLI runs in
// the directory the user typed the command in (INIT_CWD), like a plain `pulumi`.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureToolchain, pulumiEnv, pulumiExecutable, repoRoot } from "./pulumi-env";
import { keepCommittedStackFile, stackToCreate } from "./stack-file";

/**
 * A committed Pulumi.<stack>.yaml whose stack the backend does not have yet (a fresh clone):
 * create the stack, keeping the committed file as written. Any other case is left to pulumi.
 */
function createCommittedStack(args: string[], cwd: string, env: NodeJS.ProcessEnv): void {
  const stack = stackToCreate(args);
  const file = stack && path.join(cwd, `Pulumi.${stack}.yaml`);
  if (!stack || !file || stack.includes("/") || !fs.existsSync(file)) return;
  const ls = spawnSync(pulumiExecutable(), ["stack", "ls", "--json"], { cwd, env, encoding: "utf8" });
  if (ls.status !== 0) return; // not logged in, no passphrase...: pulumi itself explains below
  if ((JSON.parse(ls.stdout) as { name: string }[]).some((s) => s.name === stack || s.name.endsWith(`/${stack}`))) return;
  const committed = fs.readFileSync(file, "utf8");
  const init = spawnSync(pulumiExecutable(), ["stack", "init", stack, "--non-interactive", "--no-select"], { cwd, env, stdio: ["ignore", "ignore", "inherit"] });
  const rewritten = fs.readFileSync(file, "utf8");
  fs.writeFileSync(file, keepCommittedStackFile(committed, rewritten));
  if (init.status !== 0) process.exit(init.status ?? 1);
  console.error(`pulumi: created stack '${stack}' for the committed ${path.basename(file)} (kept as written${rewritten.includes("encryptionsalt:") ? ", plus its new encryptionsalt line: commit it" : ""})`);
}

function main(): void {
  const root = repoRoot();
  ensureToolchain(root);
  const cwd = process.env.INIT_CWD || process.cwd();
  const env = { ...process.env, ...pulumiEnv(root) };
  createCommittedStack(process.argv.slice(2), cwd, env);
  const child = spawn(pulumiExecutable(), process.argv.slice(2), { cwd, env, stdio: "inherit" });
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
