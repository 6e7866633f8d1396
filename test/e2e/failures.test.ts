// End to end, the rollback paths: activation fails, a health check fails, and the new generation
// breaks SSH. Each time the host ends on its previous generation with no watchdog armed, `up` fails
// with a message naming the server, the step and the rollback, and the next good `up` converges.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject } from "../harness/project";
import { HostState, hostState, waitFor } from "./expect";

let host: SimHost;
let project: E2EProject;
let good: HostState;
let goodOutputs: Record<string, unknown>;
let fix = 0;

beforeAll(async () => {
    [host] = await startHosts(1, { names: ["fail1"] });
    project = await E2EProject.create([host], { stack: "fail" });
    const r = await project.up();
    expect(r.error ?? "").toBe("");
});

afterAll(async () => {
    await project?.remove();
    await host?.stop();
});

beforeEach(async () => {
    good = await hostState(host);
    goodOutputs = (await project.outputs()).servers.fail1;
});

/** The host is back where it was, healthy, with nothing armed; Pulumi kept the last good outputs. */
async function expectRolledBack(): Promise<void> {
    const s = await hostState(host);
    expect(s.generation === good.generation || s.system === good.system).toBe(true);
    expect(s.system).toBe(good.system);
    expect(s.watchdog).toBe("none");
    expect(s.failedUnits).toEqual([]);
    expect((await project.outputs()).servers.fail1).toEqual(goodOutputs);
}

/** A good change after the fault is fixed: deploys and verifies a new generation. */
async function expectConverges(): Promise<void> {
    fix++;
    project.writeHost("fail1", "", `  # fixed ${fix}\n`);
    const r = await project.up();
    expect(r.error ?? "").toBe("");
    const s = await hostState(host);
    expect(s.system).not.toBe(good.system);
    expect(s.watchdog).toBe("none");
    expect((await project.outputs()).servers.fail1.storePath).toBe(s.system);
}

describe("rollback", () => {
    it("activation fails: rolled back at once, up fails naming the server, the step and the rollback", async () => {
        project.setReleaseFault("fail1", "activate-fails");
        const r = await project.up();
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(/fail1-rebuild/);
        expect(r.error).toMatch(/activation.*failed|failed to activate/i);
        expect(r.error).toMatch(new RegExp(`rolled back .*to ${good.generation}`));
        await expectRolledBack();
        await expectConverges();
    });

    it("a health check fails: Verify rolls back, re-checks, and up fails with the report", async () => {
        project.setReleaseFault("fail1", "unit-fails:nginx.service");
        const r = await project.up();
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(/fail1-verify/);
        expect(r.error).toMatch(new RegExp(`nginx\\.service.*failed.*rolled back from generation \\d+ to ${good.generation}; all checks pass on ${good.generation}`));
        await expectRolledBack();
        // Retrying the same broken release fails again, clearly, rather than passing on the old generation.
        const again = await project.up();
        expect(again.ok).toBe(false);
        expect(again.error).toMatch(/rolled back/);
        await expectRolledBack();
        await expectConverges();
    });

    it("the new generation breaks SSH: the host rolls itself back within the confirmation timeout", async () => {
        project.setReleaseFault("fail1", "breaks-ssh");
        const started = Date.now();
        const r = await project.up();
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(/fail1/);
        // Told before contact was lost: the host rolls itself back, nothing else is needed.
        expect(r.output).toMatch(new RegExp(`unless verify confirms within 30s .*the watchdog rolls back to generation ${good.generation} by itself`));
        // Nothing from the deployer from here on: the watchdog alone brings the old generation back.
        const s = await waitFor(() => hostState(host), (v) => v.system === good.system && v.watchdog === "none", 60);
        expect(s.system).toBe(good.system);
        expect((Date.now() - started) / 1000).toBeLessThan(30 + 45);
        await expectRolledBack();
        await expectConverges();
    });
});
