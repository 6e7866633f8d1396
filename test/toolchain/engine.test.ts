// The real engine (CLI 3.248.0) drives the stand-in command and random plugins through preview,
// up, a no-change up, in-place update vs replacement, and destroy.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineProject } from "./engineProject";

const PROGRAM = `
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";
const cfg = new pulumi.Config();
const seed = new random.RandomBytes("seed", { length: 16 });
const hello = new command.local.Command("hello", {
    create: "printf '%s\\\\n' " + (cfg.get("word") ?? "hi") + "; cat; echo warn >&2",
    delete: "printf '%s' \\"$PULUMI_COMMAND_STDOUT\\" > deleted.txt",
    stdin: "from-stdin",
    triggers: [cfg.get("trigger") ?? "t1"],
});
export const stdout = hello.stdout;
export const stderr = hello.stderr;
export const hexLength = seed.hex.apply((h) => h.length);
export const base64 = seed.base64;
`;

describe("real engine with the stand-in plugins", () => {
    let p: EngineProject;
    let seedBefore: unknown;
    beforeAll(() => { p = EngineProject.create(PROGRAM); });
    afterAll(() => { p?.remove(); });

    it("previews without running anything, then creates", () => {
        const plan = p.plan();
        expect(plan.get("seed")).toBe("create");
        expect(plan.get("hello")).toBe("create");
        expect(fs.existsSync(path.join(p.dir, "deleted.txt"))).toBe(false);

        const up = p.run("up", "--yes", "--skip-preview");
        expect(up.code, up.out).toBe(0);
        expect(up.out).not.toMatch(/pulumi-resource-\S+ from \$PATH/);
        const o = p.outputs();
        seedBefore = o.base64;
        // stdout/stderr lose exactly one trailing newline; stdin reached the command.
        expect(o.stdout).toBe("hi\nfrom-stdin");
        expect(o.stderr).toBe("warn");
        expect(o.hexLength).toBe(32);
        expect(Buffer.from(String(o.base64), "base64")).toHaveLength(16);
        // base64/hex are secrets in state.
        expect(p.stateText()).not.toContain(String(o.base64));
    });

    it("a second up changes nothing", () => {
        const up = p.run("up", "--yes", "--skip-preview", "--expect-no-changes");
        expect(up.code, up.out).toBe(0);
        expect(up.out).toMatch(/3 unchanged/);
    });

    it("a changed create updates in place (re-running create); a changed trigger replaces", () => {
        expect(p.run("config", "set", "word", "bye").code).toBe(0);
        const up = p.run("up", "--yes", "--skip-preview");
        expect(up.code, up.out).toBe(0);
        expect(up.out).toMatch(/~ 1 updated/);
        expect(up.out).not.toMatch(/replaced/);

        expect(p.run("config", "set", "trigger", "t2").code).toBe(0);
        const up2 = p.run("up", "--yes", "--skip-preview");
        expect(up2.code, up2.out).toBe(0);
        expect(up2.out).toMatch(/\+-1 replaced/);
        const o = p.outputs();
        expect(o.stdout).toBe("bye\nfrom-stdin");
        expect(o.base64).toBe(seedBefore);
        // The replaced resource's delete ran with its previous stdout in the environment.
        expect(fs.readFileSync(path.join(p.dir, "deleted.txt"), "utf8")).toBe("bye\nfrom-stdin");
    });

    it("destroys, running the delete command", () => {
        fs.rmSync(path.join(p.dir, "deleted.txt"), { force: true });
        const d = p.run("destroy", "--yes", "--skip-preview");
        expect(d.code, d.out).toBe(0);
        expect(fs.readFileSync(path.join(p.dir, "deleted.txt"), "utf8")).toBe("bye\nfrom-stdin");
    });
});
