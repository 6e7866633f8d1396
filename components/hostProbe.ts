// HostProbe: what a server really runs, read over SSH on `pulumi refresh`, so drift shows in preview.
import * as pulumi from "@pulumi/pulumi";
import { renderVerb } from "./lib/remoteCommand";

// A dynamic provider is serialized into state: the source of each function it reaches (comments
// included), each wrapped in the serializer's boilerplate, plus every value they capture. Every
// HostProbe keeps that text in its inputs and its outputs, in every checkpoint and history copy. So
// the provider reaches few functions, each self-contained (no imported module captured) and with
// its comments above it rather than in its body.

/** How the probe reaches the host: the deploy key and the pinned host key, nothing else. */
export interface ProbeTarget {
    host: string;
    port: number;
    user: string;
    /** authorized_keys-format line, e.g. `ssh-ed25519 AAAA…`. */
    hostKey: string;
    /** The deploy key's ed25519 private key as its 32-byte seed (RFC 8032), base64. Kept secret in state. */
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

/** The dispatcher's status verb (the deploy key's forced command runs the dispatcher anyway; it takes sudo itself). */
const statusRequest = renderVerb("status");

// The OpenSSH text of the deploy key, rebuilt from its seed at each read so that state keeps 44
// characters of secret instead of ~400 (twice: inputs and outputs, each as incompressible ciphertext).
// OpenSSH 9.2's `ssh -i` takes only this format for ed25519, not PKCS#8. The layout is PROTOCOL.key's
// (lib/sshKey.ts builds the same, commented): magic, cipher and KDF "none", no KDF options, one key,
// the public blob (string "ssh-ed25519", string public), then the private section (length 0x88):
// two equal check-ints (zero), the key type, the public key, seed‖public (0x40 bytes), an empty
// comment, and padding 1..5 to a multiple of 8. Every length is fixed, so one template holds it.
/** The deploy key's OpenSSH private key text, from its base64 ed25519 seed. */
export function openSshKey(seed: string): string {
    const s = Buffer.from(seed, "base64"), crypto = require("node:crypto") as typeof import("node:crypto");
    const jwk = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), s]), format: "der", type: "pkcs8" }).export({ format: "jwk" });
    const pub = Buffer.from(jwk.x!, "base64url").toString("latin1");
    const type = "\0\0\0\x0bssh-ed25519";
    const body = `openssh-key-v1\0\0\0\0\x04none\0\0\0\x04none\0\0\0\0\0\0\0\x01\0\0\0\x33${type}\0\0\0\x20${pub}` +
        `\0\0\0\x88\0\0\0\0\0\0\0\0${type}\0\0\0\x20${pub}\0\0\0\x40${s.toString("latin1")}${pub}\0\0\0\0\x01\x02\x03\x04\x05`;
    return `-----BEGIN OPENSSH PRIVATE KEY-----\n${Buffer.from(body, "latin1").toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/**
 * Everything one status request needs: the files to write into the private directory `dir` (the
 * deploy key, and a known_hosts line pinning the host key, in OpenSSH's bracket form for a port
 * other than 22), and ssh's argument vector (host key pinned, the deploy key only, no interactive
 * fallback, the dispatcher's status verb).
 */
export function sshCall(t: ProbeTarget, dir: string): { files: [string, string][]; args: string[] } {
    const key = `${dir}/key`, knownHosts = `${dir}/known_hosts`;
    return {
        files: [
            [key, openSshKey(t.privateKey)],
            [knownHosts, `${t.port === 22 ? t.host : `[${t.host}]:${t.port}`} ${t.hostKey.trim().split(/\s+/).slice(0, 2).join(" ")}\n`],
        ],
        args: [
            "-i", key, "-p", String(t.port),
            ...["IdentitiesOnly=yes", "IdentityAgent=none", "BatchMode=yes", "StrictHostKeyChecking=yes", `UserKnownHostsFile=${knownHosts}`,
                "GlobalKnownHostsFile=/dev/null", "ConnectTimeout=10", "ServerAliveInterval=5", "ServerAliveCountMax=2"].flatMap((o) => ["-o", o]),
            "-l", t.user, "--", t.host, statusRequest,
        ],
    };
}

/**
 * Reads `status.sh`'s `nhs-result` line: exactly one such line, and its `store` and `deployed` keys,
 * taken before any free-text `report=` (whose words must never pass for keys). A missing line or key
 * is an error naming the server and the key. The same grammar as lib/result.ts's parseResultLine,
 * written out here so the provider captures no module.
 */
export function parseObservation(name: string, stdout: string): HostObservation {
    const lines = stdout.split(/\r?\n/).filter((l) => l === "nhs-result" || l.startsWith("nhs-result "));
    const where = `status.sh on server "${name}"`;
    if (lines.length !== 1) throw new Error(`${where} printed ${lines.length || "no"} "nhs-result" lines, expected exactly one`);
    const f: Record<string, string> = Object.fromEntries(lines[0].split(" report=")[0].split(" ").map((w) => w.split(/=(.*)/)));
    for (const k of ["store", "deployed"]) {
        if (f[k] === undefined) throw new Error(`${where}: result line has no "${k}" key`);
    }
    return { system: f.store, deployed: f.deployed };
}

/** Drift: the host runs a system, and it is not the one this tool last confirmed there. */
export function isDrifted(o: HostObservation): boolean {
    return o.deployed !== "none" && o.system !== o.deployed;
}

// create: a fresh probe is never "drifted" and reads nothing: the Rebuild that follows it deploys
// anyway, so an SSH round trip here would only lengthen every first deploy.
// read: ssh with the deploy key and the pinned host key, from a private temporary directory.
// diff: a refresh that found drift replaces the probe; its new id re-triggers Rebuild and Verify.
// update: only the deploy key rotated, so there is nothing to read again.
/** Exported for its unit test, which runs the serialized text as the dynamic-provider plugin would. */
export const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: ProbeTarget & { name: string }) {
        const outs: ProbeState = { ...inputs, observed: null, drifted: false };
        return { id: require("node:crypto").randomUUID(), outs };
    },
    async read(id: string, p: ProbeState) {
        const fs = require("node:fs") as typeof import("node:fs");
        const dir = fs.mkdtempSync(`${require("node:os").tmpdir()}/nhs-probe-`);
        try {
            const { files, args } = sshCall(p, dir);
            for (const [file, text] of files) fs.writeFileSync(file, text, { mode: 0o600 });
            const { stdout } = await require("node:util").promisify(require("node:child_process").execFile)("ssh", args, { timeout: 60_000 }).catch((e: { stderr: string; message: string }) => {
                throw new Error(`server "${p.name}": could not read its status over SSH (${p.user}@${p.host}:${p.port}): ${String(e.stderr).trim() || e.message}`);
            });
            const observed = parseObservation(p.name, stdout);
            return { id, props: { ...p, observed, drifted: isDrifted(observed) } };
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    },
    async diff(_id: string, olds: ProbeState, news: ProbeTarget & { name: string }) {
        const replaces = olds.drifted ? ["observed"] : [];
        for (const k of ["host", "port", "user", "hostKey"] as const) {
            if (olds[k] !== news[k]) replaces.push(k);
        }
        return { changes: replaces.length > 0 || olds.privateKey !== news.privateKey, replaces, deleteBeforeReplace: false };
    },
    async update(_id: string, olds: ProbeState, news: ProbeTarget & { name: string }) {
        return { outs: { ...olds, ...news } };
    },
};

export interface HostProbeArgs {
    name: pulumi.Input<string>;
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    user: pulumi.Input<string>;
    hostKey: pulumi.Input<string>;
    /** The deploy key's seed, base64 (DeployKey's keySeed), secret. */
    privateKey: pulumi.Input<string>;
}

/** On refresh, reads the host's current and last-deployed systems; replaced (with a new id) when it finds drift. */
export class HostProbe extends pulumi.dynamic.Resource {
    // `declare`: a class field would overwrite the Outputs the base constructor set.
    declare public readonly observed: pulumi.Output<HostObservation | null>;
    declare public readonly drifted: pulumi.Output<boolean>;

    constructor(name: string, args: HostProbeArgs, opts?: pulumi.CustomResourceOptions) {
        super(provider, name, { ...args, privateKey: pulumi.secret(args.privateKey), observed: undefined, drifted: undefined }, {
            ...opts,
            additionalSecretOutputs: ["privateKey"],
        }, "nixos-home-server", "HostProbe");
    }
}
