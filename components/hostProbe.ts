// HostProbe: what a server really runs, read over SSH on `pulumi refresh`, so drift shows in preview.
import * as pulumi from "@pulumi/pulumi";
import { parseResultLine } from "./lib/result";
import { BASE } from "./lib/remoteCommand";

/** How the probe reaches the host: the deploy key and the pinned host key, nothing else. */
export interface ProbeTarget {
    host: string;
    port: number;
    user: string;
    /** authorized_keys-format line, e.g. `ssh-ed25519 AAAA…`. */
    hostKey: string;
    /** OpenSSH private key (the deploy key). Kept secret in state. */
    privateKey: string;
}

/** The host's own account of its system, from `status.sh`. */
export interface HostObservation {
    /** Store path of /run/current-system (status.sh's `store`). */
    system: string;
    /** Store path this tool last confirmed on the host, or "none". */
    deployed: string;
}

interface ProbeState extends ProbeTarget {
    name: string;
    /** Read by refresh only; null from create until the first refresh. */
    observed: HostObservation | null;
    /** Set only by a refresh that found the host running something Pulumi did not deploy. */
    drifted: boolean;
}

/** The dispatcher's status verb (the deploy key's forced command runs the dispatcher anyway). */
const statusRequest = `${BASE}/dispatch status`;

/** The ssh argument vector for one command, host key pinned and no interactive fallback. */
export function sshArgs(t: Pick<ProbeTarget, "host" | "port" | "user">, keyFile: string, knownHostsFile: string, command: string): string[] {
    return [
        "-i", keyFile,
        "-p", String(t.port),
        "-o", "IdentitiesOnly=yes",
        "-o", "IdentityAgent=none",
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", `UserKnownHostsFile=${knownHostsFile}`,
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "ConnectTimeout=10",
        "-o", "ServerAliveInterval=5",
        "-o", "ServerAliveCountMax=2",
        "-l", t.user,
        "--", t.host,
        command,
    ];
}

/** A known_hosts line pinning `hostKey` for host:port (OpenSSH brackets non-default ports). */
export function knownHostsLine(host: string, port: number, hostKey: string): string {
    const name = port === 22 ? host : `[${host}]:${port}`;
    return `${name} ${hostKey.trim().split(/\s+/).slice(0, 2).join(" ")}\n`;
}

/** The status request, the same for every user: the dispatcher takes sudo itself. */
export function statusCommand(): string {
    return statusRequest;
}

/** Parses `status.sh`'s result line (the one parser, lib/result.ts); a missing key names the key and the server. */
export function parseObservation(name: string, stdout: string): HostObservation {
    const f = parseResultLine(stdout, { step: "status.sh", host: `server "${name}"`, required: ["store", "deployed"] });
    return { system: f.store, deployed: f.deployed };
}

/** Drift: the host runs a system, and it is not the one this tool last confirmed there. */
export function isDrifted(o: HostObservation): boolean {
    return o.deployed !== "none" && o.system !== o.deployed;
}

// Dynamic providers are serialized into state, so everything they use is required inside them.
async function observe(name: string, t: ProbeTarget): Promise<HostObservation> {
    const { execFile } = require("node:child_process") as typeof import("node:child_process");
    const fs = require("node:fs") as typeof import("node:fs");
    const os = require("node:os") as typeof import("node:os");
    const path = require("node:path") as typeof import("node:path");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-probe-"));
    try {
        const keyFile = path.join(dir, "key");
        const knownHosts = path.join(dir, "known_hosts");
        fs.writeFileSync(keyFile, t.privateKey.endsWith("\n") ? t.privateKey : `${t.privateKey}\n`, { mode: 0o600 });
        fs.writeFileSync(knownHosts, knownHostsLine(t.host, t.port, t.hostKey), { mode: 0o600 });
        const stdout = await new Promise<string>((resolve, reject) => {
            execFile("ssh", sshArgs(t, keyFile, knownHosts, statusCommand()), { timeout: 60_000 }, (err, out, errOut) => {
                if (err) {
                    reject(new Error(`server "${name}": could not read its status over SSH (${t.user}@${t.host}:${t.port}): ${String(errOut).trim() || err.message}`));
                } else {
                    resolve(String(out));
                }
            });
        });
        return parseObservation(name, stdout);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: ProbeTarget & { name: string }) {
        // A fresh probe is never "drifted" and reads nothing: the Rebuild that follows it deploys
        // anyway, so an SSH round trip here would only lengthen every first deploy.
        const outs: ProbeState = { ...inputs, observed: null, drifted: false };
        const { randomUUID } = require("node:crypto") as typeof import("node:crypto");
        return { id: randomUUID(), outs };
    },
    async read(id: string, props: ProbeState) {
        const observed = await observe(props.name, props);
        return { id, props: { ...props, observed, drifted: isDrifted(observed) } };
    },
    async diff(_id: string, olds: ProbeState, news: ProbeTarget & { name: string }) {
        // A refresh that found drift replaces the probe; its new id re-triggers Rebuild and Verify.
        const replaces = olds.drifted ? ["observed"] : [];
        for (const k of ["host", "port", "user", "hostKey"] as const) {
            if (olds[k] !== news[k]) replaces.push(k);
        }
        const changes = replaces.length > 0 || olds.privateKey !== news.privateKey;
        return { changes, replaces, deleteBeforeReplace: false };
    },
    async update(_id: string, olds: ProbeState, news: ProbeTarget & { name: string }) {
        // Only the deploy key rotated: nothing to read again.
        return { outs: { ...olds, ...news } };
    },
};

export interface HostProbeArgs {
    name: pulumi.Input<string>;
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    user: pulumi.Input<string>;
    hostKey: pulumi.Input<string>;
    privateKey: pulumi.Input<string>;
}

/** On refresh, reads the host's current and last-deployed systems; replaced (with a new id) when it finds drift. */
export class HostProbe extends pulumi.dynamic.Resource {
    // `declare`: a class field would overwrite the Outputs the base constructor set.
    declare public readonly observed: pulumi.Output<HostObservation | null>;
    declare public readonly drifted: pulumi.Output<boolean>;

    constructor(name: string, args: HostProbeArgs, opts?: pulumi.CustomResourceOptions) {
        super(provider, name, { ...args, observed: undefined, drifted: undefined }, {
            ...opts,
            additionalSecretOutputs: ["privateKey"],
        }, "nixos-home-server", "HostProbe");
    }
}
