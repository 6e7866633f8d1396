// Benchmark: how deploy time scales with the fleet, through the real engine against simulated hosts.
// Prints ratios (machine-independent), with the raw seconds beside them.
//   npm run bench
import { startHosts, SimHost } from "../test/harness/hosts";
import { E2EProject, RunResult } from "../test/harness/project";

async function timedUp(p: E2EProject): Promise<number> {
    const r: RunResult = await p.up();
    if (!r.ok) throw new Error(`bench: up failed: ${r.error}`);
    return r.seconds;
}

async function main(): Promise<void> {
    const hosts: SimHost[] = await startHosts(4, { names: ["bench1", "bench2", "bench3", "bench4"] });
    const projects: E2EProject[] = [];
    try {
        const single = await E2EProject.create([hosts[0]], { stack: "bench-one" });
        const parallel = await E2EProject.create(hosts.slice(1), { stack: "bench-par", parallelism: 3 });
        projects.push(single, parallel);
        const one = await timedUp(single);
        const noop = await timedUp(single);
        const par = await timedUp(parallel);
        // The same three hosts again, one at a time: a new release for each, parallelism 1.
        const serial = await E2EProject.create(hosts.slice(1), { stack: "bench-ser", parallelism: 1 });
        projects.push(serial);
        for (const h of hosts.slice(1)) serial.writeHost(h.name, "", "  # serial run\n");
        const ser = await timedUp(serial);
        const rows: [string, number, string][] = [
            ["3 servers in parallel / 1 server", par / one, `${par.toFixed(1)}s / ${one.toFixed(1)}s`],
            ["3 servers one by one / 3 in parallel", ser / par, `${ser.toFixed(1)}s / ${par.toFixed(1)}s`],
            ["no-op up / first deploy (1 server)", noop / one, `${noop.toFixed(1)}s / ${one.toFixed(1)}s`],
        ];
        for (const [what, ratio, raw] of rows) console.log(`${what.padEnd(40)} ${ratio.toFixed(2)}x  (${raw})`);
    } finally {
        for (const p of projects) await p.remove();
        for (const h of hosts) await h.stop();
    }
}

main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
