// `npm run demo`: the whole product on this machine, no real server needed. Starts two simulated
// NixOS hosts, deploys a local `demo` stack to them with the real Pulumi engine, then shows a broken
// change being rolled back on the host. The hosts stay up for exploring until `npm run demo -- down`.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { listHosts, startHosts, stopAllHosts } from "../test/harness/hosts";
import { E2EProject, PASSPHRASE } from "../test/harness/project";
import { BASE } from "../components/lib/remoteCommand";
import { ensureToolchain, pulumiExecutable, repoRoot } from "./pulumi-env";

const DIR = path.join(repoRoot(), ".demo");

function banner(text: string): void {
    console.log(`\n=== ${text}\n`);
}

function pulumi(project: E2EProject, args: string[]): number {
    const r = spawnSync(pulumiExecutable(), [...args, "--stack", "demo"], { cwd: project.dir, env: { ...process.env, ...project.env() }, stdio: "inherit" });
    return r.status ?? 1;
}

async function down(): Promise<void> {
    await stopAllHosts();
    fs.rmSync(DIR, { recursive: true, force: true });
    console.log("demo: simulated hosts stopped, .demo/ removed");
}

async function up(): Promise<void> {
    ensureToolchain();
    if (listHosts().length > 0) await stopAllHosts();
    banner("Starting two simulated NixOS hosts (network namespaces with real sshd)");
    const hosts = await startHosts(2, { names: ["home1", "home2"], owner: "cli" });
    for (const h of hosts) console.log(`${h.name}: ${h.bootstrapUser}@${h.address} (host key ${h.hostKeyLine.slice(0, 40)}...)`);

    const project = await E2EProject.create(hosts, { dir: DIR, stack: "demo", parallelism: 2 });
    await project.stack();
    banner("pulumi preview: what the first deploy will do");
    if (pulumi(project, ["preview", "--non-interactive"]) !== 0) throw new Error("demo: preview failed");
    banner("pulumi up: deploy key, sync, rebuild with a watchdog armed, verify");
    if (pulumi(project, ["up", "--yes", "--skip-preview", "--non-interactive", "--continue-on-error"]) !== 0) throw new Error("demo: up failed");

    banner("A broken change: home2's new generation crashes nginx. Watch Verify roll it back.");
    project.setReleaseFault("home2", "unit-fails:nginx.service");
    const broken = pulumi(project, ["up", "--yes", "--skip-preview", "--non-interactive", "--continue-on-error"]);
    console.log(`\ndemo: pulumi up exited ${broken} (a failure is expected here)`);
    const status = await hosts[1].run(`sh ${BASE}/current/.nhs/status.sh 2>/dev/null`);
    console.log(`demo: home2 now reports: ${status.stdout.trim()}`);
    project.setReleaseFault("home2", "");

    banner("Done. The hosts stay up for exploring");
    for (const h of hosts) {
        console.log(`  ssh -i ${h.privateKeyPath} -o UserKnownHostsFile=${h.knownHostsPath} ${h.bootstrapUser}@${h.address}`);
    }
    console.log(`  cd .demo && PULUMI_BACKEND_URL=file://${project.stateDir} PULUMI_CONFIG_PASSPHRASE=${PASSPHRASE} npm run pulumi -- stack output --stack demo`);
    console.log("  npm run demo -- down    # stop the hosts and remove .demo/");
}

const verb = process.argv[2] ?? "up";
(verb === "down" ? down() : verb === "up" ? up() : Promise.reject(new Error(`usage: npm run demo [-- up|down]`))).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
