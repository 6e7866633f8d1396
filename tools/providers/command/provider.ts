// The command provider stand-in: Check/Diff/Create/Update/Delete for command:remote:Command and
// command:local:Command with the semantics of command 1.2.1 (remote|local/commandController.go).
import * as crypto from "node:crypto";
import type { Provider } from "@pulumi/pulumi/provider";
import { loggerFor } from "../common/engineLog";
import { parseUrn, revealProps, secret } from "../common/values";
import { runLocal } from "./local";
import { Connection, runRemote } from "./remote";
import { cancelAll, RunResult } from "./run";
import { copyToRemote } from "./copy";
import { checkCommand, COPY_TO_REMOTE, diffInputs, INPUTS, PROVIDER_VERSION, REMOTE_COMMAND, REPLACE_ON_CHANGES, SUPPORTED, unsupportedTypeError } from "./schema";

type Props = Record<string, unknown>;

function typeOf(urn: string): string {
    const { type } = parseUrn(urn);
    if (!(SUPPORTED as readonly string[]).includes(type)) throw unsupportedTypeError(type);
    return type;
}

/** resource.NewUniqueHex(name, 8, 0): the name plus 8 random hex digits. */
function newId(urn: string): string {
    return parseUrn(urn).name + crypto.randomBytes(4).toString("hex");
}

function str(v: unknown): string | undefined {
    return typeof v === "string" ? v : undefined;
}

function toConnection(v: unknown): Connection {
    const c = (v ?? {}) as Record<string, unknown>;
    return {
        host: String(c.host), port: Number(c.port ?? 22), user: str(c.user) ?? "root",
        password: str(c.password), privateKey: str(c.privateKey), privateKeyPassword: str(c.privateKeyPassword),
        agentSocketPath: str(c.agentSocketPath), dialErrorLimit: Number(c.dialErrorLimit ?? 10),
        perDialTimeout: Number(c.perDialTimeout ?? 15), hostKey: str(c.hostKey),
    };
}

async function run(type: string, urn: string, command: string, inputs: Props, prev: { stdout: string; stderr: string }): Promise<RunResult> {
    const logger = loggerFor(urn);
    const base = {
        command,
        stdin: str(inputs.stdin),
        environment: (inputs.environment ?? undefined) as Record<string, string> | undefined,
        logging: inputs.logging,
        addPreviousOutputInEnv: inputs.addPreviousOutputInEnv !== false,
        previousStdout: prev.stdout,
        previousStderr: prev.stderr,
    };
    if (type === REMOTE_COMMAND) return runRemote(toConnection(inputs.connection), base, logger);
    return runLocal({ ...base, interpreter: inputs.interpreter as string[] | undefined, dir: str(inputs.dir) }, logger);
}

/**
 * Outputs are the inputs plus stdout/stderr. Secret-ness flows from an input to the output of the
 * same name only (command v0.9.1+, "Use default implementation for input-output dependencies");
 * connection is tagged secret, so it is always stored as one.
 */
function outputs(rawInputs: Props, secretKeys: Set<string>, values: Props, result: { stdout: string; stderr: string }): Props {
    const outs: Props = {};
    for (const [k, v] of Object.entries(values)) {
        if (v === undefined || v === null) continue;
        outs[k] = secretKeys.has(k) || k === "connection" ? secret(v) : v;
    }
    void rawInputs;
    outs.stdout = result.stdout;
    outs.stderr = result.stderr;
    return outs;
}

async function copy(urn: string, inputs: Props): Promise<void> {
    const { values } = revealProps(inputs);
    const source = values.source as { path: string };
    await copyToRemote(toConnection(values.connection), source.path, String(values.remotePath), loggerFor(urn));
}

/** CopyToRemoteOutputs embeds the inputs and nothing else; connection stays a secret. */
function copyOutputs(inputs: Props): Props {
    const outs: Props = {};
    for (const [k, v] of Object.entries(inputs)) {
        if (v === undefined || v === null) continue;
        outs[k] = k === "connection" ? secret(revealProps({ c: v }).values.c) : v;
    }
    return outs;
}

export function commandProvider(): Provider {
    return {
        version: PROVIDER_VERSION,
        async check(urn, _olds, news) {
            const { inputs, failures } = checkCommand(typeOf(urn), news as Props);
            return { inputs, failures };
        },
        async diff(_id, urn, olds, news) {
            const type = typeOf(urn);
            return diffInputs(INPUTS[type], REPLACE_ON_CHANGES, olds as Props, news as Props);
        },
        async create(urn, inputs) {
            const type = typeOf(urn);
            if (type === COPY_TO_REMOTE) {
                // copyController.go Create: copy, then resource.NewUniqueHex("", 8, 0) as the id.
                await copy(urn, inputs as Props);
                return { id: crypto.randomBytes(4).toString("hex"), outs: copyOutputs(inputs as Props) };
            }
            const id = newId(urn);
            const { values, secretKeys } = revealProps(inputs as Props);
            let result = { stdout: "", stderr: "" };
            const create = str(values.create);
            if (create !== undefined) result = await run(type, urn, create, values, result);
            return { id, outs: outputs(inputs as Props, secretKeys, values, result) };
        },
        async update(_id, urn, olds, news) {
            const type = typeOf(urn);
            if (type === COPY_TO_REMOTE) {
                // copyController.go Update: copy again only when the source hash or remotePath changed.
                const o = revealProps(olds as Props).values;
                const n = revealProps(news as Props).values;
                const hash = (v: unknown) => (v as { hash?: string } | undefined)?.hash;
                if (hash(o.source) !== hash(n.source) || o.remotePath !== n.remotePath) await copy(urn, news as Props);
                return { outs: copyOutputs(news as Props) };
            }
            const old = revealProps(olds as Props).values;
            const { values, secretKeys } = revealProps(news as Props);
            let result = { stdout: str(old.stdout) ?? "", stderr: str(old.stderr) ?? "" };
            // Update falls back to create; with neither, nothing runs and the old outputs stay.
            const cmd = str(values.update) ?? str(values.create);
            if (cmd !== undefined) result = await run(type, urn, cmd, values, result);
            return { outs: outputs(news as Props, secretKeys, values, result) };
        },
        async delete(_id, urn, props) {
            const type = typeOf(urn);
            // CopyToRemote has no Delete: the copied file stays on the host.
            if (type === COPY_TO_REMOTE) return;
            const { values } = revealProps(props as Props);
            const del = str(values.delete);
            if (del === undefined) return;
            await run(type, urn, del, values, { stdout: str(values.stdout) ?? "", stderr: str(values.stderr) ?? "" });
        },
        async read(id, urn, props) {
            typeOf(urn);
            return { id, props };
        },
        async cancel() {
            cancelAll();
        },
    };
}
