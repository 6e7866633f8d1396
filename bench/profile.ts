// Profiling helper (not the bench): one simulated host, a first deploy and no-op ups through the
// plain CLI with verbose engine logs in $PROF_DIR, timed with CPU. Run under the heavy lock.
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { startHosts } from "../test/harness/hosts";
import { E2EProject, FAST_HEALTH } from "../test/harness/project";
import { pulumiExecutable } from "../scripts/pulumi-env";

const out = process.env.PROF_DIR ?? "/tmp/prof";
const verbose = process.env.PROF_VERBOSE !== "0";
const noops = Number(process.env.PROF_NOOPS ?? "2");

function cli(p: E2EProject, label: string, args: string[], extraEnv: Record<string, string> = {}): void {
    const flags = verbose ? ["-v=9", "--logtostderr", "--logflow"] : [];
    const t = Date.now();
    const r = spawnSync("/usr/bin/time", ["-f", "%e wall %U user %S sys", pulumiExecutable(), ...args, ...flags], {
        cwd: p.dir, env: { ...process.env, ...p.env(), ...extraEnv }, encoding: "utf8", maxBuffer: 1 << 30,
    });
    fs.writeFileSync(path.join(out, `${label}.log`), r.stderr);
    fs.writeFileSync(path.join(out, `${label}.out`), r.stdout);
    const times = r.stderr.trim().split("\n").pop();
    console.log(`${label}: exit ${r.status} ${((Date.now() - t) / 1000).toFixed(2)} s (${times})`);
}

async function main(): Promise<void> {
    fs.mkdirSync(out, { recursive: true });
    const hosts = await startHosts(1, { names: ["prof1"] });
    try {
        for (const v of (process.env.PROF_VARIANTS ?? "base").split(",")) await variant(hosts, v);
    } finally {
        for (const h of hosts) await h.stop();
    }
}

async function variant(hosts: Awaited<ReturnType<typeof startHosts>>, v: string): Promise<void> {
    console.log(`--- variant ${v}`);
    const p = await E2EProject.create(hosts, { stack: "prof", servers: { prof1: { health: FAST_HEALTH } } });
    const env: Record<string, string> = {};
    if (v === "transpile") env.PULUMI_NODEJS_TRANSPILE_ONLY = "true";
    if (v === "tsx") fs.writeFileSync(path.join(p.dir, "Pulumi.yaml"), fs.readFileSync(path.join(p.dir, "Pulumi.yaml"), "utf8").replace("typescript: true", 'typescript: false\n    nodeargs: "--import tsx"'));
    if (v === "cpuprof") env.NODE_OPTIONS = "--require /tmp/prof/cpuprof.js";
    const cli0 = cli;
    const cliV = (q: E2EProject, label: string, args: string[]) => cli0(q, `${v}-${label}`, args, env);
    try {
        await p.stack();
        const up = ["up", "--yes", "--skip-preview", "-s", "prof"];
        if (process.env.PROF_SKIP_FIRST !== "1") cliV(p, "first", up);
        else {
            const r = await p.up();
            console.log(`first (automation): ${r.seconds} s ok=${r.ok}`);
        }
        for (let i = 0; i < noops; i++) cliV(p, `noop${i}`, up);
        if (process.env.PROF_CHANGE === "1") {
            fs.appendFileSync(path.join(p.dir, "nixos", "default.nix"), `# change\n`);
            cliV(p, "change", up);
        }
    } finally {
        if (process.env.PROF_KEEP !== "1") await p.remove();
        else console.log(`kept ${p.dir}`);
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
