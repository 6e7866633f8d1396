// `npm run deploy -- <stack> [--only NAME|tag:TAG]... [--yes]`: deploy some servers of a stack
// without touching the others. The selection becomes Pulumi targets; then preview, a question
// (unless --yes), `up --continue-on-error`, and one table row per selected server. Exits non-zero
// if any selected server failed. The stack must exist (`npm run pulumi -- preview -s <stack>`).
import * as readline from "node:readline/promises";
import { EngineEvent, LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { PROJECT } from "../components/config";
import { SelectionError, ServerRun, renderTable, selectServers, serverOf, serverTargets, tableRow } from "../components/lib/selection";
import { ensureToolchain, pulumiEnv, repoRoot, toolchainRoot } from "./pulumi-env";

const USAGE = "usage: npm run deploy -- <stack> [--only NAME|tag:TAG]... [--yes]";

export interface DeployArgs {
  stack: string;
  only: string[];
  yes: boolean;
}

export function parseDeployArgs(argv: readonly string[]): DeployArgs {
  const only: string[] = [];
  let yes = false;
  let stack: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--yes" || a === "-y") yes = true;
    else if (a === "--only") {
      const v = argv[++i];
      if (!v) throw new SelectionError(`--only needs NAME or tag:TAG; ${USAGE}`);
      only.push(v);
    } else if (a.startsWith("--only=")) only.push(a.slice("--only=".length));
    else if (a.startsWith("-")) throw new SelectionError(`unknown option ${a}; ${USAGE}`);
    else if (stack === undefined) stack = a;
    else throw new SelectionError(`unexpected argument ${a}; ${USAGE}`);
  }
  if (!stack) throw new SelectionError(USAGE);
  return { stack, only, yes };
}

async function main(): Promise<number> {
  const args = parseDeployArgs(process.argv.slice(2));
  const root = repoRoot();
  ensureToolchain(root);
  const cwd = process.env.INIT_CWD || process.cwd();
  const pulumiCommand = await PulumiCommand.get({ root: toolchainRoot(), skipVersionCheck: false });
  const ws = await LocalWorkspace.create({ workDir: cwd, envVars: { ...pulumiEnv(root) }, pulumiCommand });
  const stack = await Stack.select(args.stack, ws).catch((e: Error) => {
    throw new SelectionError(`stack "${args.stack}": ${e.message.split("\n").find((l) => /error:/.test(l)) ?? e.message}\nCreate it first: npm run pulumi -- preview -s ${args.stack}`);
  });
  const raw = (await ws.getAllConfig(args.stack))[`${PROJECT}:servers`]?.value;
  const servers = (raw ? JSON.parse(raw) : []) as { name: string; tags?: string[] }[];
  const selected = selectServers(args.stack, servers, args.only);
  const target = selected.flatMap(serverTargets);
  console.log(`deploy: stack ${args.stack}, servers: ${selected.join(", ")}${args.only.length === 0 ? " (all)" : ""}\n`);

  const write = (s: string) => process.stdout.write(s);
  await stack.preview({ target, onOutput: write, diff: true });
  if (!args.yes) {
    if (!process.stdin.isTTY) throw new SelectionError("not a terminal, so nobody can confirm: add --yes to deploy without asking");
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(`\nDeploy ${selected.join(", ")} to stack ${args.stack}? [y/N] `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      console.log("deploy: cancelled, nothing changed");
      return 1;
    }
  }

  const runs = new Map<string, ServerRun>(selected.map((n) => [n, { name: n, changed: false, failed: false }]));
  const onEvent = (e: EngineEvent) => {
    const urn = e.resourcePreEvent?.metadata.urn ?? e.resOutputsEvent?.metadata.urn ?? e.resOpFailedEvent?.metadata.urn ?? e.diagnosticEvent?.urn;
    const name = urn?.split("::").pop();
    const server = name && serverOf(name, selected);
    const r = server ? runs.get(server) : undefined;
    if (!r || !name) return;
    const now = Date.now();
    r.firstMs ??= now;
    r.lastMs = now;
    const op = (e.resourcePreEvent ?? e.resOutputsEvent)?.metadata.op;
    if (op && !["same", "read", "refresh"].includes(op)) r.changed = true;
    if (e.resOpFailedEvent || e.diagnosticEvent?.severity === "error") r.failed = true;
    const stdout = e.resOutputsEvent?.metadata.new?.outputs?.stdout;
    if (typeof stdout === "string" && name === `${server}-rebuild`) r.rebuildStdout = stdout;
    if (typeof stdout === "string" && name === `${server}-verify`) r.verifyText = stdout;
    if (e.diagnosticEvent?.severity === "error" && name === `${server}-verify`) r.verifyText = e.diagnosticEvent.message;
  };
  let failedRun: Error | undefined;
  await stack.up({ target, continueOnError: true, onOutput: write, onEvent }).catch((e: Error) => (failedRun = e));
  const rows = selected.map((n) => tableRow(runs.get(n)!));
  console.log(`\n${renderTable(rows)}`);
  const failed = rows.filter((r) => r.result.startsWith("FAILED"));
  if (failed.length > 0 || failedRun) {
    console.error(`\ndeploy: ${failed.length > 0 ? `${failed.map((r) => r.server).join(", ")} failed` : "the run failed"}; see above`);
    return 1;
  }
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(e instanceof SelectionError ? `deploy: ${e.message}` : e);
      process.exit(2);
    },
  );
}
