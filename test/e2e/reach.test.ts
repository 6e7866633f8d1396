// End to end, a server that cannot be trusted or reached: the run fails before any command runs on
// it, names the server, and gives up within a bounded time (perDialTimeoutSeconds × dialErrorLimit).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject } from "../harness/project";

let hosts: SimHost[];

beforeAll(async () => {
    hosts = await startHosts(2, { names: ["key1", "down1"] });
});

afterAll(async () => {
    for (const h of hosts ?? []) await h.stop();
});

describe("wrong host key and unreachable host", () => {
    it("a host key that does not match the pinned one stops the run before any command", async () => {
        const [h, other] = hosts;
        const project = await E2EProject.create([h], { stack: "key", servers: { key1: { hostKey: other.hostKeyLine } } });
        try {
            const sessions = await h.commandCount();
            const r = await project.up();
            expect(r.ok).toBe(false);
            expect(r.error).toMatch(/key1-key-authorization/);
            expect(r.error).toMatch(/host key/i);
            expect(await h.commandCount()).toBe(sessions);
            expect(await h.generation()).toBe(1);
        } finally {
            await project.remove();
        }
    });

    it("an unreachable host fails the run quickly, naming the server", async () => {
        const [, h] = hosts;
        const project = await E2EProject.create([h], { stack: "down", servers: { down1: { perDialTimeoutSeconds: 2, dialErrorLimit: 2 } } });
        try {
            await h.setFault({ kind: "host-down" });
            const r = await project.up();
            expect(r.ok).toBe(false);
            expect(r.error).toMatch(/down1-key-authorization/);
            expect(r.error).toMatch(/dial|connect|timeout|unreachable/i);
            // Bounded: 2 dials of 2 s plus the engine's own start-up, far from a hang.
            expect(r.seconds).toBeLessThan(60);
        } finally {
            await h.clearFault("host-down");
            await project.remove();
        }
    });
});
