// End to end, three servers at once while one of them fails, run as the README says
// (--continue-on-error). Both orders are forced, not left to timing:
// - early: par2 fails while par1 and par3 cannot even be reached (their links are down until the
//   engine reports par2's failure), so their steps run after the failure;
// - late: par2's Verify waits on a gate the test opens only once par1 and par3 are verified.
// In each order every healthy server is deployed and verified, the failed one is rolled back, the
// run fails, and it ends by naming each server's outcome.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject, FAST_HEALTH } from "../harness/project";
import { HostState, hostState } from "./expect";

const GATE = "/var/lib/nhs-sim/fleet-gate";

let hosts: SimHost[];
let project: E2EProject;

beforeAll(async () => {
    hosts = await startHosts(3, { names: ["par1", "par2", "par3"] });
    // Unreachable healthy hosts must keep dialing (not fail) until the test brings them back.
    const patient = { perDialTimeoutSeconds: 2, dialErrorLimit: 60 };
    project = await E2EProject.create(hosts, {
        stack: "fleet",
        parallelism: 3,
        servers: {
            par1: patient,
            par3: patient,
            // par2 also runs a check that blocks until the gate file exists.
            par2: {
                health: { ...FAST_HEALTH, commands: [`until [ -e ${GATE} ]; do sleep 0.2; done`], timeoutSeconds: 120 },
                confirmTimeoutSeconds: 1800,
            },
        },
    });
});

afterAll(async () => {
    await project?.remove();
    for (const h of hosts ?? []) await h.stop();
});

/** Resource name (last URN segment) of an engine event that reports a finished or failed step. */
function finished(e: EngineEvent): { name: string; failed: boolean } | undefined {
    const failed = e.resOpFailedEvent?.metadata.urn ?? (e.diagnosticEvent?.severity === "error" ? e.diagnosticEvent.urn : undefined);
    if (failed) return { name: failed.split("::").pop()!, failed: true };
    const done = e.resOutputsEvent?.metadata.urn;
    return done ? { name: done.split("::").pop()!, failed: false } : undefined;
}

/** Seconds (host clock) at which the last deploy on a host started and its log was last written. */
async function deployWindow(h: SimHost): Promise<[number, number]> {
    const r = await h.mustRun("stat -c %Y /var/lib/nixos-home-server/state/deploy.log; sed -n 's/^nhs-start=//p' /var/lib/nixos-home-server/state/deploy.log | tail -n 1");
    const [end, start] = r.trim().split("\n").map(Number);
    return [start, end];
}

function expectOutcomes(before: HostState[], after: HostState[], text: string): void {
    const [s1, s2, s3] = after;
    // Healthy servers: deployed and confirmed, though par2 failed.
    for (const i of [0, 2]) {
        expect(after[i].generation, hosts[i].name).toBe(before[i].generation + 1);
        expect(after[i].watchdog, hosts[i].name).toBe("none");
    }
    // The failed server is back on its old system.
    expect(s2.system).toBe(before[1].system);
    expect(s2.watchdog).toBe("none");
    expect([s1, s3].every((s) => s.failedUnits.length === 0)).toBe(true);
    // Each server's own diagnostics, then the program's closing list of every outcome.
    expect(text).toMatch(/par2-verify[\s\S]*nginx\.service.*failed.*rolled back from generation/);
    expect(text).toMatch(/fleet: 1 of 3 servers not verified/);
    expect(text).toMatch(/par1 +verified: all \d+ checks pass on generation/);
    expect(text).toMatch(/par3 +verified: all \d+ checks pass on generation/);
    expect(text).toMatch(/par2 +NOT verified/);
}

describe("three servers at once, one failing, --continue-on-error", () => {
    it("failure early: servers reached only after par2 failed are still deployed", async () => {
        const before = await Promise.all(hosts.map((h) => hostState(h)));
        await hosts[1].mustRun(`touch ${GATE}`);
        project.setReleaseFault("par2", "unit-fails:nginx.service");
        await hosts[0].setFault({ kind: "host-down" });
        await hosts[2].setFault({ kind: "host-down" });

        let failedAt = 0;
        let reopened: Promise<unknown> | undefined;
        const r = await project.up({
            continueOnError: true,
            onEvent: (e) => {
                const f = finished(e);
                if (f?.failed && f.name === "par2-verify" && !reopened) {
                    failedAt = Date.now();
                    reopened = Promise.all([hosts[0].clearFault("host-down"), hosts[2].clearFault("host-down")]);
                }
            },
        });
        await reopened;
        expect(failedAt, "par2-verify failed while par1 and par3 were unreachable").toBeGreaterThan(0);
        expect(r.ok).toBe(false);

        // The order really was forced: par1 and par3 started deploying after par2's failure.
        for (const h of [hosts[0], hosts[2]]) {
            const [start] = await deployWindow(h);
            expect(start, `${h.name} deploy start`).toBeGreaterThanOrEqual(Math.floor(failedAt / 1000));
        }
        const after = await Promise.all(hosts.map((h) => hostState(h)));
        expectOutcomes(before, after, r.output + (r.error ?? ""));
    });

    it("failure late: par2 fails after par1 and par3 are verified, and all three deployed at once", async () => {
        const before = await Promise.all(hosts.map((h) => hostState(h)));
        await hosts[1].mustRun(`rm -f ${GATE}`);
        // A new release for every server; par2's still breaks nginx.
        project.writeHost("par1", "", "  # release 2\n");
        project.writeHost("par2", "unit-fails:nginx.service", "  # release 2\n");
        project.writeHost("par3", "", "  # release 2\n");

        const verified = new Map<string, number>();
        let failedAt = 0;
        let opened: Promise<unknown> | undefined;
        const r = await project.up({
            continueOnError: true,
            onEvent: (e) => {
                const f = finished(e);
                if (!f) return;
                if (f.failed && f.name === "par2-verify" && !failedAt) failedAt = Date.now();
                // First outputs only: a replaced Verify reports again when the old one is deleted, at the end.
                if (!f.failed && (f.name === "par1-verify" || f.name === "par3-verify") && !verified.has(f.name)) verified.set(f.name, Date.now());
                if (verified.size === 2 && !opened) opened = hosts[1].mustRun(`touch ${GATE}`);
            },
        });
        await opened;
        expect(r.ok).toBe(false);
        expect([...verified.keys()].sort()).toEqual(["par1-verify", "par3-verify"]);
        expect(failedAt).toBeGreaterThan(Math.max(...verified.values()));

        const after = await Promise.all(hosts.map((h) => hostState(h)));
        expectOutcomes(before, after, r.output + (r.error ?? ""));

        // parallelism 3: the three deploys overlapped on the hosts.
        const windows = await Promise.all(hosts.map((h) => deployWindow(h)));
        expect(Math.max(...windows.map((w) => w[0]))).toBeLessThanOrEqual(Math.min(...windows.map((w) => w[1])));
    });
});
