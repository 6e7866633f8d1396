// End to end, three servers deployed in parallel while one of them fails: every server's outcome is
// reported, the healthy ones keep their new generation, and the deploys really overlap on the hosts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject } from "../harness/project";
import { hostState } from "./expect";

let hosts: SimHost[];
let project: E2EProject;

beforeAll(async () => {
    hosts = await startHosts(3, { names: ["par1", "par2", "par3"] });
    project = await E2EProject.create(hosts, { stack: "fleet", parallelism: 3 });
});

afterAll(async () => {
    await project?.remove();
    for (const h of hosts ?? []) await h.stop();
});

/** [start, end] of the last deploy on a host, from its own deploy log timestamps. */
async function deployWindow(h: SimHost): Promise<[number, number]> {
    const r = await h.mustRun("stat -c %Y /var/lib/nixos-home-server/state/deploy.log; sed -n 's/^nhs-start=//p' /var/lib/nixos-home-server/state/deploy.log | tail -n 1");
    const [end, start] = r.trim().split("\n").map(Number);
    return [start, end];
}

describe("three servers in parallel, one failing", () => {
    it("reports each server's outcome and rolls back only the failed one", async () => {
        const before = await Promise.all(hosts.map((h) => hostState(h)));
        project.setReleaseFault("par2", "unit-fails:nginx.service");
        const r = await project.up();
        expect(r.ok).toBe(false);

        const [s1, s2, s3] = await Promise.all(hosts.map((h) => hostState(h)));
        // Healthy servers: deployed and confirmed, not rolled back because par2 failed.
        for (const [s, b] of [[s1, before[0]], [s3, before[2]]] as const) {
            expect(s.generation).toBe(b.generation + 1);
            expect(s.watchdog).toBe("none");
        }
        // The failed server is back on its old system.
        expect(s2.system).toBe(before[1].system);
        expect(s2.watchdog).toBe("none");

        // The run reports every server: two verified, one rolled back with the reason.
        const text = r.output + (r.error ?? "");
        expect(text).toMatch(/par1-verify[\s\S]*all \d+ checks pass on generation/);
        expect(text).toMatch(/par3-verify[\s\S]*all \d+ checks pass on generation/);
        expect(text).toMatch(/par2-verify[\s\S]*nginx\.service.*failed.*rolled back from generation/);
    });

    it("ran the three deploys at the same time", async () => {
        const windows = await Promise.all(hosts.map((h) => deployWindow(h)));
        const latestStart = Math.max(...windows.map((w) => w[0]));
        const earliestEnd = Math.min(...windows.map((w) => w[1]));
        expect(latestStart).toBeLessThanOrEqual(earliestEnd);
    });
});
