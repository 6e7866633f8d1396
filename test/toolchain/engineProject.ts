// A throwaway Pulumi project run by the real CLI with the stand-in provider plugins: its own
// PULUMI_HOME (plugins registered by tools/providers/install.sh), file backend and passphrase.
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { repoRoot, toolchainBin } from "../../scripts/pulumi-env";

export const REPO = repoRoot();

export interface CliResult { code: number; out: string; stdout: string; seconds: number }

export class EngineProject {
    readonly home: string;
    readonly state: string;
    readonly env: Record<string, string>;

    constructor(readonly dir: string, program: string) {
        this.home = path.join(dir, ".pulumi-home");
        this.state = path.join(dir, ".state");
        fs.mkdirSync(this.state, { recursive: true });
        fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: engine-test\nruntime: nodejs\n");
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "engine-test", main: "index.ts" }));
        fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
            compilerOptions: { strict: true, target: "es2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true },
            files: ["index.ts"],
        }));
        fs.writeFileSync(path.join(dir, "index.ts"), program);
        execFileSync(path.join(REPO, "tools", "providers", "install.sh"), [this.home], { stdio: "pipe" });
        this.env = {
            ...(process.env as Record<string, string>),
            PATH: [toolchainBin(), path.join(REPO, "node_modules", "@pulumi", "pulumi"), process.env.PATH ?? ""].join(":"),
            PULUMI_HOME: this.home,
            PULUMI_BACKEND_URL: `file://${this.state}`,
            PULUMI_CONFIG_PASSPHRASE: "engine-test-passphrase",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            // Type-checking the tiny program costs seconds per run; the plugins are what is under test.
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        };
    }

    static create(program: string): EngineProject {
        const base = path.join(REPO, ".e2e");
        fs.mkdirSync(base, { recursive: true });
        const p = new EngineProject(fs.mkdtempSync(path.join(base, "engine-")), program);
        const init = p.run("stack", "init", "test");
        if (init.code !== 0) throw new Error(init.out);
        return p;
    }

    run(...args: string[]): CliResult {
        const t = Date.now();
        const r = spawnSync(path.join(toolchainBin(), "pulumi"), [...args, "--non-interactive"], {
            cwd: this.dir, env: this.env, encoding: "utf8", timeout: 120_000,
        });
        return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, stdout: r.stdout, seconds: (Date.now() - t) / 1000 };
    }

    /** Steps the engine plans, from `preview --json`: resource name -> op. */
    plan(): Map<string, string> {
        const r = this.run("preview", "--json");
        if (r.code !== 0) throw new Error(r.out);
        const steps = (JSON.parse(r.stdout).steps ?? []) as { op: string; urn: string }[];
        return new Map(steps.filter((s) => !s.urn.includes("pulumi:providers:") && !s.urn.includes("pulumi:pulumi:Stack"))
            .map((s) => [s.urn.split("::").pop()!, s.op]));
    }

    outputs(): Record<string, unknown> {
        const r = this.run("stack", "output", "--json", "--show-secrets");
        if (r.code !== 0) throw new Error(r.out);
        return JSON.parse(r.stdout);
    }

    /** Every file of the file backend's state (checkpoints, backups, history), as one text. */
    stateText(): string {
        return (fs.readdirSync(this.state, { recursive: true }) as string[])
            .map((f) => path.join(this.state, f))
            .filter((f) => fs.statSync(f).isFile())
            .map((f) => fs.readFileSync(f).toString())
            .join("\n");
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
