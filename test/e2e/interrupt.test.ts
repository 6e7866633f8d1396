// End to end, an interrupted run: the CLI is killed (SIGINT, then SIGKILL) while the host activates.
// The host settles by itself (rolled back by its watchdog, never half-switched with a watchdog left
// armed), and the recovery the README documents makes the next `up` converge.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject } from "../harness/project";
import { hostState, waitFor } from "./expect";

let host: SimHost;
let project: E2EProject;

beforeAll(async () => {
    [host] = await startHosts(1, { names: ["int1"] });
    project = await E2EProject.create([host], { stack: "int" });
    const r = await project.up();
    expect(r.error ?? "").toBe("");
});

afterAll(async () => {
    await project?.remove();
    await host?.stop();
});

function cli(args: string[]): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
        const child = project.spawnCli(args);
        let out = "";
        child.stdout!.on("data", (d) => (out += d));
        child.stderr!.on("data", (d) => (out += d));
        child.on("close", (code) => resolve({ code, out }));
    });
}

describe("interrupted run", () => {
    it("the host settles on its own, and cancel + refresh + up converges", async () => {
        const good = await hostState(host);
        project.setReleaseFault("int1", "slow-activation:6");
        const child = project.spawnCli(["up", "--stack", "int", "--yes", "--skip-preview", "--non-interactive"]);
        let out = "";
        child.stdout!.on("data", (d) => (out += d));
        child.stderr!.on("data", (d) => (out += d));
        const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));

        // Interrupt once the host has armed its watchdog and is activating the new generation.
        const armed = await waitFor(() => hostState(host), (v) => v.watchdog === "armed", 60);
        expect(armed.watchdog).toBe("armed");
        const interruptedAt = Date.now();
        child.kill("SIGINT");
        await new Promise((r) => setTimeout(r, 1000));
        child.kill("SIGKILL");
        await exited;

        // Consistent by itself: the watchdog (confirmTimeoutSeconds 30) rolls back the unconfirmed switch.
        const s = await waitFor(() => hostState(host), (v) => v.watchdog === "none" && v.system === good.system, 75);
        expect(s.watchdog).toBe("none");
        expect(s.system).toBe(good.system);
        expect(s.failedUnits).toEqual([]);
        // It was the watchdog, not the deployer: nothing could have rolled back before it fired.
        expect((Date.now() - interruptedAt) / 1000).toBeGreaterThan(20);

        // The documented recovery: release the stale lock, clear what the killed run left pending, deploy.
        await cli(["cancel", "--stack", "int", "--yes", "--non-interactive"]);
        const refresh = await cli(["refresh", "--stack", "int", "--yes", "--non-interactive", "--clear-pending-creates"]);
        expect(refresh.code, refresh.out).toBe(0);
        project.setReleaseFault("int1", "");
        project.writeHost("int1", "", "  # after the interruption\n");
        const up = await cli(["up", "--stack", "int", "--yes", "--skip-preview", "--non-interactive"]);
        expect(up.code, up.out).toBe(0);
        const after = await hostState(host);
        expect(after.system).not.toBe(good.system);
        expect(after.watchdog).toBe("none");
        expect((await project.outputs()).servers.int1.storePath).toBe(after.system);
    });
});
