// The team setup: state in an S3-compatible bucket (gofakes3 on loopback, tools/s3). The CI step
// scripts run against it, and two concurrent `up` runs on one stack: the second fails on the
// stack lock before any step, and the host sees only the first.
import * as path from "node:path";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject } from "../harness/project";
import { exec } from "../harness/exec";
import { repoRoot } from "../../scripts/pulumi-env";

let s3: ChildProcess;
let host: SimHost;
let project: E2EProject;
let backendUrl: string;

/** Starts nhs-fakes3 with one bucket; resolves to its http://127.0.0.1:PORT endpoint. */
function startFakeS3(bucket: string): Promise<string> {
    const bin = execFileSync(path.join(repoRoot(), "tools", "s3", "build.sh"), { encoding: "utf8" }).trim();
    s3 = spawn(bin, [bucket], { stdio: ["ignore", "pipe", "inherit"] });
    return new Promise((resolve, reject) => {
        s3.once("exit", (code) => reject(new Error(`nhs-fakes3 exited with ${code}`)));
        s3.stdout!.once("data", (b: Buffer) => resolve(/listening (\S+)/.exec(String(b))![1]));
    });
}

beforeAll(async () => {
    const endpoint = await startFakeS3("nhs-state");
    // The form documented in the README: gocloud.dev v0.46's s3blob (the CLI's go.mod) query parameters.
    backendUrl = `s3://nhs-state?endpoint=${endpoint}&region=us-east-1&use_path_style=true`;
    [host] = await startHosts(1, { names: ["s3one"] });
    project = await E2EProject.create([host], {
        stack: "team",
        env: { PULUMI_BACKEND_URL: backendUrl, AWS_ACCESS_KEY_ID: "nhs-test", AWS_SECRET_ACCESS_KEY: "nhs-test-secret" },
    });
    await project.stack();
}, 240_000);

afterAll(async () => {
    await project?.remove();
    await host?.stop();
    s3?.kill();
});

function step(script: string) {
    return exec("sh", [path.join(repoRoot(), "scripts", "ci", script), "team"], {
        cwd: project.dir,
        env: { ...process.env, ...project.env(), INIT_CWD: project.dir },
    });
}

/** Runs `pulumi up` in the project; resolves to its exit code and output. */
function up(onOutput?: (s: string) => void): Promise<{ code: number | null; output: string }> {
    const child = project.spawnCli(["up", "--yes", "--skip-preview", "--non-interactive", "-s", "team"]);
    let output = "";
    const take = (b: Buffer) => {
        output += String(b);
        onOutput?.(output);
    };
    child.stdout!.on("data", take);
    child.stderr!.on("data", take);
    return new Promise((resolve) => child.on("exit", (code) => resolve({ code, output })));
}

describe("S3 state backend", () => {
    it("the CI steps preview, deploy and check a stack whose state is in the bucket", async () => {
        expect(project.env().PULUMI_BACKEND_URL).toBe(backendUrl);
        const p = await step("preview.sh");
        expect(p.code, p.stderr + p.stdout).toBe(0);
        const d = await step("deploy.sh");
        expect(d.code, d.stderr + d.stdout).toBe(0);
        expect(await host.generation()).toBe(2);
        const c = await step("check.sh");
        expect(c.code, c.stderr + c.stdout).toBe(0);
        expect(c.stdout).toMatch(/team: s3one generation 2 .*all \d+ checks pass on generation 2/);
    });

    it("a second concurrent up fails on the stack lock, and the host sees only the first", async () => {
        await host.setFault({ kind: "slow-activation", seconds: 6 });
        project.writeHost(host.name, "", "  # a change for the first up\n");
        const g = await host.generation();
        let started!: () => void;
        const inEngine = new Promise<void>((r) => (started = r));
        const first = up((out) => {
            if (/config-sync/.test(out)) started();
        });
        await inEngine;
        const commands = await host.commandCount();
        const second = await up();
        expect(second.code).not.toBe(0);
        expect(second.output).toMatch(/the stack is currently locked by 1 lock\(s\)/);
        expect(second.output).not.toMatch(/s3one-(config-sync|rebuild|verify)/);
        const f = await first;
        expect(f.code, f.output).toBe(0);
        expect(await host.generation()).toBe(g + 1);
        // The first run's own commands ran; the second added none (it never reached the engine).
        expect(await host.commandCount()).toBeGreaterThan(commands);
        await host.clearFault("slow-activation");
        // The lock is gone with the first run: a later up works.
        const again = await up();
        expect(again.code, again.output).toBe(0);
    });
});
