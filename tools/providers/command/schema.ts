// What command 1.2.1 accepts for the two resources this stand-in serves: input names, defaults
// (infer's SetDefault annotations), the replace-on-change field, and the diff rule. Pure.
import { containsUnknown, deepEqual, reveal, secret, SIG_KEY, UNKNOWN } from "../common/values";

export const REMOTE_COMMAND = "command:remote:Command";
export const LOCAL_COMMAND = "command:local:Command";
export const COPY_TO_REMOTE = "command:remote:CopyToRemote";
export const SUPPORTED = [REMOTE_COMMAND, LOCAL_COMMAND, COPY_TO_REMOTE] as const;
export const PROVIDER_VERSION = "1.2.1";

export function unsupportedTypeError(token: string): Error {
    return new Error(
        `resource type ${JSON.stringify(token)} is not implemented by this stand-in for the command ` +
        `provider ${PROVIDER_VERSION}; it implements only ${SUPPORTED.join(", ")}`,
    );
}

// common.ResourceInputs, remote.CommandInputs and local.BaseInputs (provider/pkg/provider/...).
const COMMON = ["triggers", "create", "update", "delete", "stdin", "logging", "environment", "addPreviousOutputInEnv"];
export const INPUTS: Record<string, string[]> = {
    [REMOTE_COMMAND]: [...COMMON, "connection"],
    [LOCAL_COMMAND]: [...COMMON, "interpreter", "dir", "assetPaths", "archivePaths"],
    // remote.CopyToRemoteInputs (remote/copy.go).
    [COPY_TO_REMOTE]: ["connection", "triggers", "source", "remotePath"],
};
/** Fields tagged provider:"replaceOnChanges" in command 1.2.1: only triggers. */
export const REPLACE_ON_CHANGES = ["triggers"];

export const LOGGING = ["stdout", "stderr", "stdoutAndStderr", "none"] as const;
export type Logging = (typeof LOGGING)[number];
export function shouldLogStdout(l: unknown): boolean {
    return l === undefined || l === null || l === "stdout" || l === "stdoutAndStderr";
}
export function shouldLogStderr(l: unknown): boolean {
    return l === undefined || l === null || l === "stderr" || l === "stdoutAndStderr";
}

export interface Failure { property: string; reason: string }

/** Connection defaults from remote/connection.go Annotate. */
export const CONNECTION_DEFAULTS = { user: "root", port: 22, dialErrorLimit: 10, perDialTimeout: 15 };

function applyConnectionDefaults(c: unknown): unknown {
    if (typeof c !== "object" || c === null || Array.isArray(c)) return c;
    const out: Record<string, unknown> = { ...(c as Record<string, unknown>) };
    for (const [k, v] of Object.entries(CONNECTION_DEFAULTS)) if (out[k] === undefined || out[k] === null) out[k] = v;
    return out;
}

/** Check: fill defaults (keeping secret wrappers where they were) and validate. */
export function checkCommand(token: string, news: Record<string, unknown>): { inputs: Record<string, unknown>; failures: Failure[] } {
    const inputs: Record<string, unknown> = { ...news };
    const failures: Failure[] = [];
    if (inputs.addPreviousOutputInEnv === undefined || inputs.addPreviousOutputInEnv === null) inputs.addPreviousOutputInEnv = true;
    const logging = reveal(inputs.logging).value;
    if (logging !== undefined && logging !== null && logging !== UNKNOWN && !(LOGGING as readonly unknown[]).includes(logging)) {
        failures.push({ property: "logging", reason: `logging must be one of ${LOGGING.join(", ")}, got ${JSON.stringify(logging)}` });
    }
    if (token === REMOTE_COMMAND || token === COPY_TO_REMOTE) {
        const raw = inputs.connection;
        if (raw === undefined || raw === null) {
            failures.push({ property: "connection", reason: "missing required property 'connection'" });
        } else if (!containsUnknown(raw)) {
            const conn = applyConnectionDefaults(reveal(raw).value) as Record<string, unknown>;
            if (typeof conn.host !== "string" || conn.host === "") {
                failures.push({ property: "connection.host", reason: "missing required property 'connection.host'" });
            }
            if (conn.proxy !== undefined && conn.proxy !== null) {
                failures.push({ property: "connection.proxy", reason: "connection.proxy (bastion host) is not supported by this stand-in for the command provider" });
            }
            for (const k of ["port", "dialErrorLimit", "perDialTimeout"]) {
                if (typeof conn[k] !== "number" || !Number.isInteger(conn[k])) {
                    failures.push({ property: `connection.${k}`, reason: `connection.${k} must be an integer, got ${JSON.stringify(conn[k])}` });
                }
            }
            // connection is tagged provider:"secret": always stored as a secret.
            inputs.connection = secret(conn);
        }
    }
    if (token === COPY_TO_REMOTE) {
        delete inputs.addPreviousOutputInEnv;
        failures.push(...checkCopySource(reveal(inputs.source).value));
        const remotePath = reveal(inputs.remotePath).value;
        if (remotePath === undefined || remotePath === null) failures.push({ property: "remotePath", reason: "missing required property 'remotePath'" });
    }
    return { inputs, failures };
}

/** The asset and archive signatures of sdk/go/common/resource/sig. */
export const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
export const ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7";

/** CopyToRemote's Check (remote/copyController.go): one path-based asset or archive. */
function checkCopySource(source: unknown): Failure[] {
    if (source === UNKNOWN || containsUnknown(source)) return [];
    const s = (source ?? {}) as Record<string, unknown>;
    const kind = s[SIG_KEY];
    if (kind !== ASSET_SIG && kind !== ARCHIVE_SIG) return [{ property: "asset", reason: "either asset or archive must be set" }];
    if (kind === ARCHIVE_SIG) {
        return [{ property: "archive", reason: "archive sources are not implemented by this stand-in for the command provider (only a path-based FileAsset)" }];
    }
    if (typeof s.path !== "string" || s.path === "") return [{ property: "asset", reason: "asset must be a path-based file asset" }];
    return [];
}

/** An asset's identity for diffs: its hash (sdk/go/common/resource/asset Equals compares hashes only). */
function assetIdentity(v: unknown): unknown {
    if (typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === ASSET_SIG) {
        const a = v as Record<string, unknown>;
        if (typeof a.hash === "string" && a.hash !== "") return { asset: a.hash };
    }
    return v;
}

export interface DiffOutcome { changes: boolean; replaces: string[] }

/**
 * infer's default diff (command 1.2.1 defines no custom Diff): any changed input is an update,
 * a changed replaceOnChanges field a replacement; unknown new values count as changed. Olds are
 * the prior outputs, which embed the prior inputs.
 */
export function diffInputs(inputNames: string[], replaceOnChanges: string[], olds: Record<string, unknown>, news: Record<string, unknown>): DiffOutcome {
    const replaces: string[] = [];
    let changes = false;
    for (const k of inputNames) {
        const o = assetIdentity(reveal(olds[k]).value);
        const n = assetIdentity(reveal(news[k]).value);
        const changed = containsUnknown(n) || !deepEqual(o ?? undefined, n ?? undefined);
        if (!changed) continue;
        changes = true;
        if (replaceOnChanges.includes(k)) replaces.push(k);
    }
    return { changes, replaces };
}
