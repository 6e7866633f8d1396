// The CI pipeline's step scripts (what .github/workflows/deploy.yml runs), against a simulated host:
// preview posts a summary, deploy converges the stack, check proves every server passed and nothing drifted.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject } from "../harness/project";
import { exec } from "../harness/exec";
import { repoRoot } from "../../scripts/pulumi-env";

let host: SimHost;
let project: E2EProject;
let summary: string;

beforeAll(async () => {
    [host] = await startHosts(1, { names: ["ci1"] });
    project = await E2EProject.create([host], { stack: "ci" });
    await project.stack(); // the stack exists, with its secrets, as a CI stack would
    summary = path.join(project.dir, "summary.md");
});

afterAll(async () => {
    await project?.remove();
    await host?.stop();
});

function step(script: string) {
    return exec("sh", [path.join(repoRoot(), "scripts", "ci", script), "ci"], {
        cwd: project.dir,
        env: { ...process.env, ...project.env(), GITHUB_STEP_SUMMARY: summary, INIT_CWD: project.dir },
    });
}

describe("CI step scripts", () => {
    it("preview.sh previews the stack and writes the job summary", async () => {
        const r = await step("preview.sh");
        expect(r.code, r.stderr + r.stdout).toBe(0);
        expect(fs.readFileSync(summary, "utf8")).toMatch(/### pulumi preview: ci \(exit 0\)[\s\S]*ci1-rebuild/);
        expect(await host.generation()).toBe(1);
    });

    it("deploy.sh deploys, then check.sh finds every server verified and nothing to change", async () => {
        const d = await step("deploy.sh");
        expect(d.code, d.stderr + d.stdout).toBe(0);
        expect(await host.generation()).toBe(2);
        // Each server's last deploy event, as a table in the job summary.
        expect(fs.readFileSync(summary, "utf8")).toMatch(/### Last deploy events: ci\n\n\| server \| event [^\n]*\n\|---[^\n]*\n\| ci1 \| verified \| ok \| 1 → 2 \| activate \d+s, verify \d+s, total \d+s \|/);
        const c = await step("check.sh");
        expect(c.code, c.stderr + c.stdout).toBe(0);
        expect(c.stdout).toMatch(/ci: ci1 generation 2 \/nix\/store\/\S+: all \d+ checks pass on generation 2/);
        // The stack's HTTP check (http://localhost/), sent from outside to the host's address.
        expect(c.stdout).toContain(`ci: ci1 http://${host.address}/ -> 200 (want 200)`);
    });

    it("check.sh fails when a server was switched by hand after the deploy", async () => {
        await host.mustRun("nix-env -p /nix/var/nix/profiles/system --switch-generation 1 && /nix/var/nix/profiles/system/bin/switch-to-configuration switch");
        const c = await step("check.sh");
        expect(c.code).not.toBe(0);
        expect(c.stdout + c.stderr).toMatch(/ci1-probe/);
    });
});
