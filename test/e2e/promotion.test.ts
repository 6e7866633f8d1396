// Staged promotion, end to end: a "prd" stack with promotion.from "stg" in the same project and
// backend, in a git checkout. prd refuses, before touching its host, a commit stg has not
// verified and a dirty tree; an override deploys anyway and is recorded in the outputs.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Stack } from "@pulumi/pulumi/automation";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject } from "../harness/project";

let hosts: SimHost[];
let project: E2EProject;
let stg: Stack;
let prd: Stack;

const git = (...args: string[]) => execFileSync("git", ["-C", project.dir, "-c", "user.name=e2e", "-c", "user.email=e2e@localhost", ...args], { encoding: "utf8" }).trim();

beforeAll(async () => {
    hosts = await startHosts(2, { names: ["stg1", "prd1"] });
    project = await E2EProject.create(hosts, { stack: "stg" });
    // One stack file per stack, each with its own server; prd promotes from stg.
    const file = (s: string) => path.join(project.dir, `Pulumi.${s}.yaml`);
    const config = JSON.parse(fs.readFileSync(file("stg"), "utf8").replace(/^config: /, ""));
    const [s1, p1] = config["nixos-home-server:servers"];
    fs.writeFileSync(file("stg"), `config: ${JSON.stringify({ ...config, "nixos-home-server:servers": [s1] })}\n`);
    fs.writeFileSync(file("prd"), `config: ${JSON.stringify({ ...config, "nixos-home-server:servers": [p1], "nixos-home-server:promotion": { from: "stg" } })}\n`);
    stg = await project.stack();
    prd = await Stack.createOrSelect("prd", stg.workspace);
    await prd.setConfig("nixos-home-server:prd1Password", { value: hosts[1].bootstrapPassword, secret: true });
    fs.writeFileSync(path.join(project.dir, ".gitignore"), "node_modules\n.state/\n");
    git("init", "-q");
    git("add", "-A");
    git("commit", "-qm", "release 1");
});

afterAll(async () => {
    await project?.remove();
    for (const h of hosts ?? []) await h.stop();
});

async function upPrd(): Promise<{ ok: boolean; text: string }> {
    let text = "";
    try {
        await prd.up({ onOutput: (s) => (text += s) });
        return { ok: true, text };
    } catch (e) {
        return { ok: false, text: text + String((e as Error).message) };
    }
}

/** prd's up fails with `problem` and no SSH command reached prd1. */
async function expectRefused(problem: RegExp): Promise<void> {
    const before = await hosts[1].commandCount();
    const r = await upPrd();
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/promotion from stack "stg" refused; no host was touched/);
    expect(r.text).toMatch(problem);
    expect(await hosts[1].commandCount()).toBe(before);
    expect(await hosts[1].generation()).toBe(1);
}

describe("promotion from stg to prd", () => {
    it("refuses before stg has deployed anything", async () => {
        await expectRefused(/stack "stg" has no release output yet/);
    });

    it("stg records the commit it verified", async () => {
        await stg.up({ onOutput: () => {} });
        const release = (await stg.outputs()).release.value;
        expect(release).toEqual({ commit: git("rev-parse", "HEAD"), dirty: false, verified: true });
    });

    it("refuses a dirty tree, even on the verified commit", async () => {
        fs.appendFileSync(path.join(project.dir, "nixos", "hosts", "prd1", "default.nix"), "# local edit\n");
        await expectRefused(/the working tree has uncommitted changes/);
    });

    it("refuses a commit stg has not verified", async () => {
        git("commit", "-qam", "release 2");
        await expectRefused(/commit [0-9a-f]{12} is not the one stack "stg" last deployed/);
    });

    it("an override deploys anyway and is recorded", async () => {
        await prd.setConfig("nixos-home-server:promotion", { value: JSON.stringify({ from: "stg", override: "e2e emergency" }) });
        const r = await upPrd();
        expect(r.ok, r.text).toBe(true);
        expect(r.text).toMatch(/promotion from "stg" overridden \("e2e emergency"\)/);
        expect(await hosts[1].generation()).toBe(2);
        const out = await prd.outputs();
        expect(out.promotion.value).toMatchObject({ from: "stg", override: "e2e emergency" });
        expect(out.promotion.value.problems.join("\n")).toMatch(/not the one stack "stg" last deployed/);
        expect(out.release.value.verified).toBe(true);
    });
});
