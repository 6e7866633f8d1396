// A throwaway copy of this Pulumi project whose stack deploys to simulated hosts, on its own file
// backend, driven by the real engine through the Automation API and the CLI (e2e tests, the demo).
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { EngineEvent, LocalWorkspace, OpMap, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { SimHost } from "./hosts";
import { pulumiEnv, repoRoot, toolchainRoot } from "../../scripts/pulumi-env";

const ROOT = repoRoot();
/** What a copy needs to run the program; nothing from test/ or the committed stacks. */
const PROJECT_FILES = ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json", "flake.nix", "flake.lock", "components", "nixos"];
/** Throwaway stacks only (tests, the demo): their state is local and disposable. */
export const PASSPHRASE = "e2e-passphrase";

export interface ServerOverrides {
    mode?: "switch" | "boot" | "test" | "dry-activate";
    health?: Record<string, unknown>;
    confirmTimeoutSeconds?: number;
    hostKey?: string;
    perDialTimeoutSeconds?: number;
    dialErrorLimit?: number;
    deployKeyRotation?: number;
    /** Instead of the host's bootstrap password (secret config `<name>Password`). */
    bootstrap?: Record<string, unknown>;
    tags?: string[];
    /** The server's `secrets` entries (their values are `secrets` of ProjectOptions). */
    secrets?: Record<string, unknown>[];
}

export interface ProjectOptions {
    /** Where the copy goes (replaced if it exists); default a fresh directory under .e2e/. */
    dir?: string;
    stack?: string;
    parallelism?: number;
    servers?: Record<string, ServerOverrides>;
    /** Extra environment for every Pulumi process, e.g. PULUMI_BACKEND_URL of an S3 bucket and its credentials. */
    env?: Record<string, string>;
    /** Extra fleet settings, e.g. deployFrom. */
    fleet?: Record<string, unknown>;
    /** Secret config values (key without the project prefix), set after the bootstrap passwords. */
    secrets?: Record<string, string>;
    /** `nixos-home-server:blueGreen`. */
    blueGreen?: Record<string, unknown>;
    /** Extra sim.env lines per host, e.g. `proxy=80` (the host enables proxy.nix). */
    simEnv?: Record<string, string>;
}

/** Health checks the simulator can pass: its units, nginx's HTTP, fast retries for tests. */
export const FAST_HEALTH = {
    units: ["nginx.service", "sshd.service"],
    http: [{ url: "http://localhost/", status: 200 }],
    journal: "fail",
    retries: 2,
    intervalSeconds: 1,
    timeoutSeconds: 2,
    minFreeMb: 1,
};

/** Resource operations seen in one engine run, keyed by resource name. */
export type Ops = Map<string, Set<string>>;

export interface RunResult {
    ok: boolean;
    output: string;
    ops: Ops;
    changes: OpMap | undefined;
    error?: string;
    seconds: number;
}

export class E2EProject {
    readonly stackName: string;
    readonly stateDir: string;
    private stackHandle?: Stack;

    private constructor(readonly dir: string, readonly hosts: SimHost[], private readonly opts: ProjectOptions) {
        this.stackName = opts.stack ?? "e2e";
        this.stateDir = path.join(dir, ".state");
    }

    /** Copies the project, adds a NixOS host directory per simulated host, and writes the stack. */
    static async create(hosts: SimHost[], opts: ProjectOptions = {}): Promise<E2EProject> {
        let dir = opts.dir;
        if (dir) {
            fs.rmSync(dir, { recursive: true, force: true });
            fs.mkdirSync(dir, { recursive: true });
        } else {
            const base = path.join(ROOT, ".e2e");
            fs.mkdirSync(base, { recursive: true });
            dir = fs.mkdtempSync(path.join(base, "p-"));
        }
        for (const f of PROJECT_FILES) fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
        const p = new E2EProject(dir, hosts, opts);
        fs.mkdirSync(p.stateDir, { recursive: true });
        for (const h of hosts) p.writeHost(h.name, "");
        p.writeStackFile();
        return p;
    }

    /** The environment every Pulumi process of this project gets: own backend, shared plugin cache. */
    env(): Record<string, string> {
        return {
            ...pulumiEnv(ROOT),
            PULUMI_BACKEND_URL: `file://${this.stateDir}`,
            PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
            ...this.opts.env,
        };
    }

    /** nixos/hosts/<name>/: a small host module, plus the simulator's sim.env (units, faults). */
    writeHost(name: string, faults: string, extraNix = ""): void {
        const d = path.join(this.dir, "nixos", "hosts", name);
        fs.mkdirSync(d, { recursive: true });
        fs.writeFileSync(
            path.join(d, "default.nix"),
            `# ${name}: a simulated home server for the end-to-end tests.\n{ ... }:\n{\n  imports = [ ../../default.nix ];\n  networking.hostName = "${name}";\n${extraNix}  system.stateVersion = "24.11";\n}\n`,
        );
        const extra = this.opts.simEnv?.[name];
        fs.writeFileSync(path.join(d, "sim.env"), `units=sshd.service nginx.service\nfaults=${faults}\n${extra ? `${extra}\n` : ""}`);
    }

    /** A release-level fault: the next deploy builds a generation that has it. */
    setReleaseFault(name: string, faults: string): void {
        this.writeHost(name, faults);
    }

    private writeStackFile(): void {
        const servers = this.hosts.map((h) => {
            const o = this.opts.servers?.[h.name] ?? {};
            return {
                name: h.name,
                host: h.address,
                port: h.port,
                user: h.bootstrapUser,
                hostKey: o.hostKey ?? h.hostKeyLine,
                bootstrap: o.bootstrap ?? { password: { secretKey: `${h.name}Password` } },
                mode: o.mode ?? "switch",
                tags: o.tags ?? ["e2e"],
                health: o.health ?? FAST_HEALTH,
                confirmTimeoutSeconds: o.confirmTimeoutSeconds ?? 30,
                perDialTimeoutSeconds: o.perDialTimeoutSeconds ?? 5,
                dialErrorLimit: o.dialErrorLimit ?? 2,
                ...(o.deployKeyRotation !== undefined ? { deployKeyRotation: o.deployKeyRotation } : {}),
                ...(o.secrets !== undefined ? { secrets: o.secrets } : {}),
            };
        });
        const config = {
            "nixos-home-server:servers": servers,
            "nixos-home-server:fleet": { parallelism: this.opts.parallelism ?? 1, keepReleases: 3, keepGenerations: 10, ...this.opts.fleet },
            ...(this.opts.blueGreen ? { "nixos-home-server:blueGreen": this.opts.blueGreen } : {}),
        };
        fs.writeFileSync(path.join(this.dir, `Pulumi.${this.stackName}.yaml`), `config: ${JSON.stringify(config, null, 2)}\n`);
    }

    /** Changes the blue-green settings in the stack file (e.g. `live`). */
    setBlueGreen(changes: Record<string, unknown>): void {
        this.opts.blueGreen = { ...this.opts.blueGreen, ...changes };
        this.writeStackFile();
    }

    /** Changes one server's settings in the stack file (the next preview or up reads it). */
    setServer(name: string, overrides: ServerOverrides): void {
        this.opts.servers = { ...this.opts.servers, [name]: { ...this.opts.servers?.[name], ...overrides } };
        this.writeStackFile();
    }

    async stack(): Promise<Stack> {
        if (this.stackHandle) return this.stackHandle;
        const pulumiCommand = await PulumiCommand.get({ root: toolchainRoot(), skipVersionCheck: false });
        const ws = await LocalWorkspace.create({ workDir: this.dir, envVars: this.env(), pulumiCommand });
        const stack = await Stack.createOrSelect(this.stackName, ws);
        for (const h of this.hosts) {
            await stack.setConfig(`nixos-home-server:${h.name}Password`, { value: h.bootstrapPassword, secret: true });
        }
        for (const [k, v] of Object.entries(this.opts.secrets ?? {})) {
            await stack.setConfig(`nixos-home-server:${k}`, { value: v, secret: true });
        }
        this.stackHandle = stack;
        return stack;
    }

    async preview(opts: { refresh?: boolean } = {}): Promise<RunResult> {
        const stack = await this.stack();
        return this.capture(async (onOutput, onEvent) => {
            const r = await stack.preview({ onOutput, onEvent, refresh: opts.refresh, diff: true });
            return r.changeSummary;
        });
    }

    /** `continueOnError` is the README's `--continue-on-error`; `onEvent` sees engine events as they come. */
    async up(opts: { refresh?: boolean; continueOnError?: boolean; onEvent?: (e: EngineEvent) => void } = {}): Promise<RunResult> {
        const stack = await this.stack();
        return this.capture(async (onOutput, onEvent) => {
            const r = await stack.up({
                onOutput,
                onEvent: (e) => {
                    onEvent(e);
                    opts.onEvent?.(e);
                },
                refresh: opts.refresh,
                continueOnError: opts.continueOnError,
            });
            return r.summary.resourceChanges;
        });
    }

    /** Stack outputs, secrets left secret. */
    async outputs(): Promise<Record<string, any>> {
        const out = await (await this.stack()).outputs();
        return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.value]));
    }

    /** The raw CLI in this project, e.g. to interrupt it or run the CI scripts. */
    spawnCli(args: string[]): ReturnType<typeof spawn> {
        return spawn(path.join(toolchainRoot(), "bin", "pulumi"), args, {
            cwd: this.dir,
            env: { ...process.env, ...this.env() },
            stdio: ["ignore", "pipe", "pipe"],
        });
    }

    private async capture(run: (onOutput: (s: string) => void, onEvent: (e: EngineEvent) => void) => Promise<OpMap | undefined>): Promise<RunResult> {
        let output = "";
        const ops: Ops = new Map();
        const started = Date.now();
        const onOutput = (s: string) => {
            output += s;
        };
        const onEvent = (e: EngineEvent) => {
            const m = e.resourcePreEvent?.metadata;
            if (m) {
                const name = m.urn.split("::").pop()!;
                ops.set(name, (ops.get(name) ?? new Set<string>()).add(m.op));
            }
        };
        try {
            const changes = await run(onOutput, onEvent);
            return { ok: true, output, ops, changes, seconds: (Date.now() - started) / 1000 };
        } catch (err) {
            return { ok: false, output, ops, changes: undefined, error: String((err as Error).message ?? err), seconds: (Date.now() - started) / 1000 };
        }
    }

    /** Removes the stack's state and the copy; never touches the hosts. */
    async remove(): Promise<void> {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** Total bytes of the files under `dir`, e.g. a project's state directory. */
export function bytesUnder(dir: string): number {
    let total = 0;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        total += e.isDirectory() ? bytesUnder(p) : fs.statSync(p).size;
    }
    return total;
}

/** The machine's CPU seconds so far (user, nice and system, every core), from /proc/stat. */
export function machineCpu(): number {
    return fs.readFileSync("/proc/stat", "utf8").split("\n")[0].split(/\s+/).slice(1, 4).reduce((a, b) => a + Number(b), 0) / 100;
}

/** Names of the resources a run changes (any step but same, refresh or read), sorted. */
export function changed(ops: Ops): string[] {
    const quiet = new Set(["same", "refresh", "read"]);
    return [...ops.entries()].filter(([, set]) => [...set].some((op) => !quiet.has(op))).map(([n]) => n).sort();
}
