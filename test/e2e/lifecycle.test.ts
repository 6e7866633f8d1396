// End to end, the happy paths: first deploy with bootstrap credentials, a no-op that runs nothing on
// the host, one changed .nix file that touches only its server, and drift repaired after a refresh.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject, changed } from "../harness/project";
import { hostState } from "./expect";

let hosts: SimHost[];
let project: E2EProject;

beforeAll(async () => {
    hosts = await startHosts(2, { names: ["life1", "life2"] });
    project = await E2EProject.create(hosts, { stack: "life", parallelism: 2 });
});

afterAll(async () => {
    await project?.remove();
    for (const h of hosts ?? []) await h.stop();
});

describe("lifecycle", () => {
    it("first deploy installs the deploy key, then syncs, rebuilds and verifies each server", async () => {
        const before = await Promise.all(hosts.map((h) => h.generation()));
        const r = await project.up();
        expect(r.error ?? "").toBe("");
        expect(r.ok).toBe(true);
        const out = (await project.outputs()).servers;
        for (const [i, h] of hosts.entries()) {
            const s = await hostState(h);
            expect(s.generation).toBe(before[i] + 1);
            expect(out[h.name].generation).toBe(s.generation);
            expect(out[h.name].storePath).toBe(s.system);
            expect(out[h.name].verification).toMatch(/^all \d+ checks pass on generation \d+$/);
            expect(out[h.name].configHash).toMatch(/^[0-9a-f]{64}$/);
            expect(s.watchdog).toBe("none");
            expect(s.failedUnits).toEqual([]);
            // The deploy key sits in the bootstrap user's authorized_keys: restricted to the dispatcher, marked with the stack.
            const keys = await h.mustRun(`cat /home/${h.bootstrapUser}/.ssh/authorized_keys`);
            expect(keys).toContain(`${out[h.name].deployPublicKey.split(" ").slice(0, 2).join(" ")}`);
            expect(keys).toContain(`restrict,command="/var/lib/nixos-home-server/dispatch --key nhs-deploy@life/${h.name}" `);
        }
        // A fresh simulated host runs a system this tool never deployed: the user is warned first.
        expect(r.output).toMatch(/was not deployed by nixos-home-server/);
    });

    it("a second up with nothing changed changes nothing and runs no command on any host", async () => {
        const before = await Promise.all(hosts.map((h) => h.commandCount()));
        const r = await project.up();
        expect(r.ok).toBe(true);
        expect(changed(r.ops)).toEqual([]);
        // The unknown-system warning belongs to the deploy that replaced it, not to every run.
        expect(r.output).not.toMatch(/was not deployed by nixos-home-server/);
        expect(Object.keys(r.changes ?? {}).filter((k) => k !== "same")).toEqual([]);
        const after = await Promise.all(hosts.map((h) => h.commandCount()));
        expect(after).toEqual(before);
    });

    it("changing one host's .nix file previews and applies exactly its ConfigSync, Rebuild and Verify", async () => {
        const [h1, h2] = hosts;
        const g2 = await h2.generation();
        project.writeHost(h1.name, "", "  services.openssh.openFirewall = true;\n");
        const p = await project.preview();
        expect(p.ok).toBe(true);
        expect(changed(p.ops)).toEqual([`${h1.name}-config-sync`, `${h1.name}-config-sync-upload`, `${h1.name}-rebuild`, `${h1.name}-verify`]);

        const g1 = await h1.generation();
        const r = await project.up();
        expect(r.ok).toBe(true);
        expect(await h1.generation()).toBe(g1 + 1);
        expect(await h2.generation()).toBe(g2);
        expect((await project.outputs()).servers[h1.name].generation).toBe(g1 + 1);
    });

    it("drift: a generation switched by hand shows in a refreshed preview, and up restores it", async () => {
        const [h1] = hosts;
        const deployed = await h1.currentSystem();
        const g = await h1.generation();
        // An admin rolls back by hand, outside Pulumi.
        await h1.mustRun(`nix-env -p /nix/var/nix/profiles/system --switch-generation ${g - 1} && /nix/var/nix/profiles/system/bin/switch-to-configuration switch`);
        expect(await h1.currentSystem()).not.toBe(deployed);

        const p = await project.preview({ refresh: true });
        expect(p.ok).toBe(true);
        expect(changed(p.ops)).toEqual(["life1-probe", "life1-rebuild", "life1-verify"]);

        const r = await project.up({ refresh: true });
        expect(r.ok).toBe(true);
        expect(await h1.currentSystem()).toBe(deployed);
        expect((await hostState(h1)).watchdog).toBe("none");

        // Converged: the next refreshed preview has nothing to do.
        const again = await project.preview({ refresh: true });
        expect(changed(again.ops)).toEqual([]);
    });
});
