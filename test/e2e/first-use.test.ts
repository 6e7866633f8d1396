// The README's first command on a fresh clone: `npm run pulumi -- preview -s staging` reaches the
// program (whose validation then asks for the real host key) instead of "no stack named 'staging'",
// and the committed stack file stays as written, plus its new encryptionsalt line.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/pulumi-env";

const ROOT = repoRoot();
const FILES = ["Pulumi.yaml", "Pulumi.staging.yaml", "index.ts", "package.json", "tsconfig.json", "flake.nix", "flake.lock", "components", "nixos"];
let dir: string;

beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-first-use-"));
    for (const f of FILES) fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    fs.mkdirSync(path.join(dir, ".state"));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `npm run pulumi -- ARGS` typed in `dir`, with its own empty file backend. */
function npmRunPulumi(args: string[]) {
    const r = spawnSync("npm", ["run", "--silent", "--prefix", ROOT, "pulumi", "--", ...args], {
        cwd: dir,
        encoding: "utf8",
        env: { ...process.env, INIT_CWD: dir, PULUMI_BACKEND_URL: `file://${path.join(dir, ".state")}`, PULUMI_CONFIG_PASSPHRASE: "first-use" },
        timeout: 120_000,
    });
    return { code: r.status, text: `${r.stdout}${r.stderr}` };
}

describe("first use, as the README says", () => {
    it("preview -s staging creates the stack, keeps the stack file, and reaches config validation", () => {
        const committed = fs.readFileSync(path.join(dir, "Pulumi.staging.yaml"), "utf8");
        const r = npmRunPulumi(["preview", "-s", "staging", "--non-interactive"]);
        expect(r.text).not.toMatch(/no stack named/);
        expect(r.text).toMatch(/created stack 'staging' for the committed Pulumi\.staging\.yaml/);
        expect(r.text).toMatch(/hostKey: is a placeholder, not a host key; run `ssh-keyscan -t ed25519/);
        expect(r.code).not.toBe(0);
        const now = fs.readFileSync(path.join(dir, "Pulumi.staging.yaml"), "utf8");
        expect(now).toMatch(/^encryptionsalt: v1:\S+\n$/m);
        expect(now.replace(/^encryptionsalt: .*\n/m, "")).toBe(committed);
    });

    it("a second run uses the stack and leaves the file alone", () => {
        const before = fs.readFileSync(path.join(dir, "Pulumi.staging.yaml"), "utf8");
        const r = npmRunPulumi(["preview", "-s", "staging", "--non-interactive"]);
        expect(r.text).not.toMatch(/created stack/);
        expect(r.text).toMatch(/hostKey: is a placeholder/);
        expect(fs.readFileSync(path.join(dir, "Pulumi.staging.yaml"), "utf8")).toBe(before);
    });
});
