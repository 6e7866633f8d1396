// `npm run deploy -- <stack> --only ...` against two simulated hosts: a selection that matches
// nothing changes nothing and lists what exists; `--only tag:web` deploys exactly the tagged
// server and prints its table row; a failing selected server makes the command fail.
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject } from "../harness/project";
import { repoRoot } from "../../scripts/pulumi-env";

let hosts: SimHost[];
let project: E2EProject;

beforeAll(async () => {
    hosts = await startHosts(2, { names: ["sel1", "sel2"] });
    project = await E2EProject.create(hosts, { stack: "sel", parallelism: 2, servers: { sel1: { tags: ["web"] }, sel2: { tags: ["db"] } } });
    await project.stack();
});

afterAll(async () => {
    await project?.remove();
    for (const h of hosts ?? []) await h.stop();
});

function deploy(args: string[]) {
    const r = spawnSync("npm", ["run", "--silent", "--prefix", repoRoot(), "deploy", "--", ...args], {
        cwd: project.dir,
        encoding: "utf8",
        env: { ...process.env, ...project.env(), INIT_CWD: project.dir },
        timeout: 180_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("npm run deploy -- <stack> --only", () => {
    it("a selection that matches nothing is an error listing the names and tags, and changes nothing", async () => {
        const r = deploy(["sel", "--only", "tag:nope", "--yes"]);
        expect(r.code).toBe(2);
        expect(r.err).toContain('--only tag:nope: no such server in stack "sel". Servers: sel1, sel2. Tags: tag:web, tag:db.');
        expect(await hosts[0].generation()).toBe(1);
        expect(await hosts[1].generation()).toBe(1);
    });

    it("--only tag:web deploys exactly the tagged server and prints its row", async () => {
        const r = deploy(["sel", "--only", "tag:web", "--yes"]);
        expect(r.code, r.out + r.err).toBe(0);
        expect(await hosts[0].generation()).toBe(2);
        expect(await hosts[1].generation()).toBe(1);
        const table = r.out.slice(r.out.lastIndexOf("server  "));
        console.log(table);
        expect(table).toMatch(/^server +result +generation +duration +checks\n/);
        expect(table).toMatch(/\nsel1 +verified +1 → 2 +\d+\.\ds +\d+ pass\n?$/);
        expect(table).not.toContain("sel2");
        // The preview and the run covered sel1's resources only.
        expect(r.out).not.toMatch(/sel2-(rebuild|verify|config-sync)/);
    });

    it("a failing selected server fails the command, and its row says it was rolled back", async () => {
        project.setReleaseFault("sel2", "unit-fails:nginx.service");
        const r = deploy(["sel", "--only", "sel2", "--yes"]);
        expect(r.code).toBe(1);
        console.log(r.out.slice(r.out.lastIndexOf("server  ")));
        expect(r.out).toMatch(/\nsel2 +FAILED, rolled back +1 → 1 \(2 rolled back\) +\d+\.\ds +failed: nginx\.service/);
        expect(r.err).toContain("deploy: sel2 failed");
        expect(await hosts[1].generation()).toBe(1);
        expect(await hosts[0].generation()).toBe(2);
    });
});
