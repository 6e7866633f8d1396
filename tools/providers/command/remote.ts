// remote.Command runs over SSH (remote/connection.go Dial + remote/commandOutputs.go run()).
// Connection contents (keys, passwords) never go into messages or logs.
import { createPrivateKey } from "node:crypto";
import * as fs from "node:fs";
import { Client, ClientChannel, ConnectConfig, utils } from "ssh2";
import type { Logger } from "../common/engineLog";
import { dialError, dialRetryStatus, reachedDialLimit, runError, setenvError, setenvLog, sshExitCause, trimOneNewline } from "./errors";
import { describePresented, HOST_KEY_MISMATCH, hostKeyMatches, parseAuthorizedKey, ParsedKey } from "./hostKey";
import { OutputCollector, running, RunRequest, RunResult } from "./run";
import { openSshKeyPairFromSeed } from "../../../components/lib/sshKey";

export interface Connection {
    host: string;
    port: number;
    user: string;
    password?: string;
    privateKey?: string;
    privateKeyPassword?: string;
    agentSocketPath?: string;
    dialErrorLimit: number;
    perDialTimeout: number;
    hostKey?: string;
}

// sdk/go/common/util/retry defaults, which dialWithRetry uses.
const RETRY = { delayMs: 100, backoff: 1.5, maxDelayMs: 5000 };

/**
 * x/crypto/ssh ParseRawPrivateKey takes a "PRIVATE KEY" block (PKCS#8, x509.ParsePKCS8PrivateKey:
 * ed25519, RSA, ECDSA; unencrypted only, as ParseRawPrivateKeyWithPassphrase has no PKCS#8 case); ssh2
 * does not, so it gets the same key in a form it reads. Anything else is passed on unchanged.
 */
function fromPkcs8(pem: string): string {
    if (!/^-----BEGIN PRIVATE KEY-----\r?\n/.test(pem)) return pem;
    let k;
    try {
        k = createPrivateKey({ key: pem, format: "pem" });
    } catch {
        throw new Error("x509: failed to parse private key");
    }
    switch (k.asymmetricKeyType) {
        case "ed25519": {
            const der = k.export({ format: "der", type: "pkcs8" });
            return openSshKeyPairFromSeed(Buffer.from(der.subarray(der.length - 32)), "").privateKey;
        }
        case "rsa": return k.export({ format: "pem", type: "pkcs1" }).toString();
        case "ec": return k.export({ format: "pem", type: "sec1" }).toString();
        default: throw new Error(`ssh: unsupported key type ${k.asymmetricKeyType}`);
    }
}

/** Builds ssh2's config the way SShConfig does; errors here are not retried (as in the real one). */
function sshConfig(c: Connection): { cfg: ConnectConfig; pinned?: ParsedKey } {
    const cfg: ConnectConfig = {
        host: c.host,
        port: c.port,
        username: c.user,
        // 0 means no maximum, as for the real perDialTimeout.
        readyTimeout: c.perDialTimeout > 0 ? c.perDialTimeout * 1000 : 2 ** 31 - 1,
        keepaliveInterval: 0,
    };
    const methods: string[] = [];
    if (c.privateKey !== undefined) {
        const key = c.privateKeyPassword === undefined ? fromPkcs8(c.privateKey) : c.privateKey;
        const parsed = utils.parseKey(key, c.privateKeyPassword);
        if (parsed instanceof Error) {
            // Go's ssh.ParsePrivateKey texts; never echo the key.
            throw new Error(/passphrase/i.test(parsed.message) && c.privateKeyPassword === undefined
                ? "ssh: this private key is passphrase protected"
                : c.privateKeyPassword !== undefined ? "x509: decryption password incorrect" : "ssh: no key found");
        }
        cfg.privateKey = key;
        if (c.privateKeyPassword !== undefined) cfg.passphrase = c.privateKeyPassword;
        methods.push("publickey");
    }
    if (c.password !== undefined) {
        cfg.password = c.password;
        cfg.tryKeyboard = true;
        methods.push("password", "keyboard-interactive");
    }
    const agent = c.agentSocketPath ?? (process.env.SSH_AUTH_SOCK || undefined);
    if (agent !== undefined) {
        if (!fs.existsSync(agent)) throw new Error(`dial unix ${agent}: connect: no such file or directory`);
        cfg.agent = agent;
        methods.push("agent");
    }
    // The real client offers its methods in this order: key, password, keyboard-interactive, agent.
    cfg.authHandler = methods as unknown as ConnectConfig["authHandler"];
    let pinned: ParsedKey | undefined;
    if (c.hostKey !== undefined && c.hostKey !== "") {
        try { pinned = parseAuthorizedKey(c.hostKey); } catch (e) {
            throw new Error(`failed to parse host key: ${(e as Error).message}`);
        }
    }
    return { cfg, pinned };
}

/** One dial: TCP + handshake + auth, with the pinned host key checked during the handshake. */
function dialOnce(c: Connection, cfg: ConnectConfig, pinned: ParsedKey | undefined): Promise<Client> {
    return new Promise((resolve, reject) => {
        const client = new Client();
        let mismatch: string | undefined;
        const conf: ConnectConfig = { ...cfg };
        if (pinned) {
            conf.hostVerifier = (key: Buffer) => {
                if (hostKeyMatches(pinned, key)) return true;
                mismatch = describePresented(key);
                return false;
            };
        }
        const endpoint = `${c.host.includes(":") ? `[${c.host}]` : c.host}:${c.port}`;
        client.once("ready", () => resolve(client));
        client.once("error", (e: Error & { level?: string; code?: string }) => {
            client.end();
            if (mismatch !== undefined) {
                reject(new Error(`${HOST_KEY_MISMATCH} (connection.hostKey is pinned; ${endpoint} presented ${mismatch.split(" ")[0]} key ${mismatch.split(" ")[1]})`));
            } else if (e.code === "ECONNREFUSED") reject(new Error(`dial tcp ${endpoint}: connect: connection refused`));
            else if (e.code === "EHOSTUNREACH") reject(new Error(`dial tcp ${endpoint}: connect: no route to host`));
            else if (e.code === "ENOTFOUND" || e.code === "EAI_AGAIN") reject(new Error(`dial tcp: lookup ${c.host}: no such host`));
            else if (e.level === "client-timeout") reject(new Error(`dial tcp ${endpoint}: i/o timeout`));
            else if (e.level === "client-authentication") {
                const tried = ["none", ...(cfg.authHandler as unknown as string[])].join(" ");
                reject(new Error(`ssh: handshake failed: ssh: unable to authenticate, attempted methods [${tried}], no supported methods remain`));
            } else reject(new Error(`ssh: handshake failed: ${e.message}`));
        });
        client.connect(conf);
    });
}

function sleep(ms: number, signal: { cancelled: boolean }): Promise<void> {
    return new Promise((r) => {
        const t = setTimeout(r, ms);
        const tick = setInterval(() => { if (signal.cancelled) { clearTimeout(t); clearInterval(tick); r(); } }, 50);
        setTimeout(() => clearInterval(tick), ms + 10);
    });
}

export async function dial(c: Connection, logger: Logger, cancel: { cancelled: boolean }): Promise<Client> {
    const { cfg, pinned } = sshConfig(c);
    let delay = RETRY.delayMs;
    for (let tryIndex = 0; ; tryIndex++) {
        try {
            return await dialOnce(c, cfg, pinned);
        } catch (e) {
            const dials = tryIndex + 1;
            if (reachedDialLimit(dials, c.dialErrorLimit)) throw new Error(dialError(tryIndex, (e as Error).message));
            await logger.log("info", dialRetryStatus(dials, c.dialErrorLimit), { ephemeral: true });
        }
        await sleep(delay, cancel);
        if (cancel.cancelled) throw new Error("context canceled");
        delay = Math.min(delay * RETRY.backoff, RETRY.maxDelayMs);
    }
}

export interface ChannelEnd { status: { code?: number | null; signal?: string; desc?: string }; closed: boolean }

/**
 * Records the channel's exit-status/exit-signal and its close from the moment it opens. They are
 * plain events, not stream data: a short command's arrive in the same read as the exec reply, before
 * the awaits that follow the open, and a listener attached after them never hears them (Go's
 * Session.Run, Start then Wait, cannot miss them). Under load that was an 8-server bench's "without exit status".
 */
export function watchEnd(ch: ClientChannel): ChannelEnd {
    const end: ChannelEnd = { status: {}, closed: false };
    ch.on("exit", (code: number | null, signal?: string, _dump?: boolean, desc?: string) => {
        end.status = { code, signal: signal?.replace(/^SIG/, ""), desc };
    });
    ch.once("close", () => { end.closed = true; });
    return end;
}

class SetenvFailed extends Error {
    constructor(readonly key: string) { super(setenvError(key)); }
}

/**
 * Opens an exec channel after sending `env` requests *with* want-reply, so a server that refuses
 * a variable (no AcceptEnv) fails the run before the command starts, as Go's Session.Setenv does.
 * ssh2's exec() sends env without asking for replies, so we wrap its protocol calls for this one
 * channel: replies are collected in the channel's request-callback queue ahead of exec's.
 */
function execWithEnv(client: Client, command: string, env: [string, string][], optional: Set<string>,
    onOptionalFailure: (key: string) => void): Promise<{ channel: ClientChannel; end: ChannelEnd }> {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const internal = client as any;
    const proto = internal._protocol;
    const origEnv = proto.env;
    const origExec = proto.exec;
    const findChannel = (remoteId: number) =>
        Object.values(internal._chanMgr._channels as Record<string, unknown>)
            // eslint-disable-next-line @typescript-eslint/no-explicit-any
            .find((ch: any) => ch && typeof ch === "object" && ch.outgoing && ch.outgoing.id === remoteId) as any;
    let pending = 0;
    let failed: string | undefined;
    let deferred: (() => void) | undefined;
    const restore = () => { proto.env = origEnv; proto.exec = origExec; };
    proto.env = (remoteId: number, key: string, val: string) => {
        const chan = findChannel(remoteId);
        pending++;
        chan._callbacks.push((hadErr: unknown) => {
            pending--;
            if (hadErr) {
                if (optional.has(key)) onOptionalFailure(key);
                else failed ??= key;
            }
            if (pending === 0 && deferred) deferred();
        });
        return origEnv.call(proto, remoteId, key, val, true);
    };
    proto.exec = (remoteId: number, cmd: string, wantReply: boolean) => {
        const send = () => {
            restore();
            if (failed !== undefined) {
                const chan = findChannel(remoteId);
                const execCallback = chan._callbacks.pop();
                execCallback(new SetenvFailed(failed));
                return;
            }
            origExec.call(proto, remoteId, cmd, wantReply);
        };
        if (pending === 0) send();
        else deferred = send;
    };
    const envObj = Object.fromEntries(env);
    return new Promise((resolve, reject) => {
        try {
            client.exec(command, env.length > 0 ? { env: envObj } : {}, (err, ch) => {
                restore();
                if (err) reject(err); else resolve({ channel: ch, end: watchEnd(ch) });
            });
        } catch (e) {
            restore();
            reject(e);
        }
    });
}

export async function runRemote(c: Connection, req: RunRequest, logger: Logger): Promise<RunResult> {
    const cancel = { cancelled: false };
    let client: Client | undefined;
    let channel: ClientChannel | undefined;
    const kill = () => {
        cancel.cancelled = true;
        try { channel?.signal("KILL"); } catch { /* closed */ }
        client?.end();
    };
    running.add(kill);
    try {
        client = await dial(c, logger, cancel);
        const env: [string, string][] = Object.entries(req.environment ?? {});
        const optional = new Set<string>();
        if (req.addPreviousOutputInEnv) {
            if (req.previousStdout !== "") { env.push(["PULUMI_COMMAND_STDOUT", req.previousStdout]); optional.add("PULUMI_COMMAND_STDOUT"); }
            if (req.previousStderr !== "") { env.push(["PULUMI_COMMAND_STDERR", req.previousStderr]); optional.add("PULUMI_COMMAND_STDERR"); }
        }
        const warnings: Promise<void>[] = [];
        let end: ChannelEnd;
        try {
            ({ channel, end } = await execWithEnv(client, req.command, env, optional,
                (key) => warnings.push(logger.log("warning", setenvLog(key)))));
        } catch (e) {
            if (e instanceof SetenvFailed) {
                await logger.log("error", setenvLog(e.key));
                throw e;
            }
            throw e;
        }
        await Promise.all(warnings);
        const out = new OutputCollector(logger, req.logging);
        const ch = channel;
        const exit = await new Promise<ChannelEnd["status"]>((resolve) => {
            ch.on("data", (b: Buffer) => out.stdout(b));
            ch.stderr.on("data", (b: Buffer) => out.stderr(b));
            // Closed already: the buffered output flows on the next ticks, then the status is read.
            if (end.closed) {
                setImmediate(() => resolve(end.status));
                return;
            }
            ch.once("close", () => resolve(end.status));
            if (req.stdin !== undefined && req.stdin.length > 0) ch.end(req.stdin);
            else ch.end();
        });
        const r = await out.finish();
        if (exit.code !== 0 || exit.signal) {
            throw new Error(runError(sshExitCause(exit.code, exit.signal, exit.desc), req.command, r.combined));
        }
        return { stdout: trimOneNewline(r.stdout), stderr: trimOneNewline(r.stderr) };
    } finally {
        running.delete(kill);
        client?.end();
    }
}
