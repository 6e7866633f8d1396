// Where the seconds go (not the bench): one simulated host, then a first deploy, no-op ups and
// optionally a one-file change, each through the plain CLI with the engine's timed log
// (-v=9 --logflow) in $PROF_DIR/<variant>-<run>.log. Run it under the heavy-test lock:
//   flock /run/nhs-heavy.lock node --import tsx bench/profile.ts
// PROF_VARIANTS (comma list, default "base"): base; typecheck (ts-node's type check back on);
// cpuprof (CPU profiles of the program and every plugin, bench/cpu-profile.cjs).
// PROF_HOSTS (default 1; that many servers, parallelism as many), PROF_NOOPS (default 2),
// PROF_CHANGE=1, PROF_VERBOSE=0 (no engine log), PROF_ENGINE=1 (the CLI's Go CPU profile),
// PROF_DIR (default /tmp/prof).
// The engine's verbose log can hold secrets: these are throwaway stacks; never use it on a real one.
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { SimHost, startHosts } from "../test/harness/hosts";
import { E2EProject, FAST_HEALTH, machineCpu } from "../test/harness/project";
import { pulumiExecutable } from "../scripts/pulumi-env";

const out = process.env.PROF_DIR ?? "/tmp/prof";
const verbose = process.env.PROF_VERBOSE !== "0";
const noops = Number(process.env.PROF_NOOPS ?? "2");

/** `pulumi up` through the CLI, wall and CPU time (children included) printed, its log kept. */
function up(p: E2EProject, label: string, env: Record<string, string>): number | null {
    const flags = verbose ? ["-v=9", "--logtostderr", "--logflow"] : [];
    // PROF_ENGINE=1: the CLI's own Go CPU profile of each run (`go tool pprof -top` reads it).
    if (process.env.PROF_ENGINE === "1") flags.push("--profiling", path.join(out, `engine-${label}-${Date.now()}`));
    const args = ["-f", "%e wall %U user %S sys", pulumiExecutable(), "up", "--yes", "--skip-preview", "--non-interactive", "-s", p.stackName, ...flags];
    const before = machineCpu();
    const r = spawnSync("/usr/bin/time", args, { cwd: p.dir, env: { ...process.env, ...p.env(), PROF_DIR: out, ...env }, encoding: "utf8", maxBuffer: 1 << 30 });
    // A label seen before (a variant listed twice) gets a number: no run's log overwrites another's.
    let file = path.join(out, `${label}.log`);
    for (let i = 2; fs.existsSync(file); i++) file = path.join(out, `${label}.${i}.log`);
    fs.writeFileSync(file, `${r.stdout}\n${r.stderr}`);
    console.log(`${label}: exit ${r.status} (${r.stderr.trim().split("\n").pop()}; machine ${(machineCpu() - before).toFixed(2)} s CPU)`);
    return r.status;
}

async function variant(hosts: SimHost[], v: string): Promise<void> {
    const env: Record<string, string> = {};
    if (v === "typecheck") env.PULUMI_NODEJS_TRANSPILE_ONLY = "false";
    else if (v === "cpuprof") env.NODE_OPTIONS = `--require ${path.join(__dirname, "cpu-profile.cjs")}`;
    else if (v !== "base") throw new Error(`unknown variant ${v}`);
    const servers = Object.fromEntries(hosts.map((h) => [h.name, { health: FAST_HEALTH }]));
    const p = await E2EProject.create(hosts, { stack: "prof", parallelism: hosts.length, servers });
    try {
        await p.stack();
        if (up(p, `${v}-first`, env) !== 0) {
            for (const h of hosts) fs.writeFileSync(path.join(out, `sshd-${h.name}-${Date.now()}.log`), await h.mustRun("cat /var/lib/nhs-sim/sshd.log; journalctl -o cat 2>/dev/null | tail -50"));
        }
        for (let i = 0; i < noops; i++) up(p, `${v}-noop${i}`, env);
        if (process.env.PROF_CHANGE === "1") {
            fs.appendFileSync(path.join(p.dir, "nixos", "default.nix"), "# change\n");
            up(p, `${v}-change`, env);
        }
    } finally {
        await p.remove();
    }
}

async function main(): Promise<void> {
    fs.mkdirSync(out, { recursive: true });
    const n = Number(process.env.PROF_HOSTS ?? "1");
    const hosts = await startHosts(n, { names: Array.from({ length: n }, (_, i) => `prof${i + 1}`) });
    try {
        for (const v of (process.env.PROF_VARIANTS ?? "base").split(",")) await variant(hosts, v);
    } finally {
        for (const h of hosts) await h.stop();
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
