// A one-key SSH agent served from the program while it runs, so pulumi-command connections name a
// socket (connection.agentSocketPath) instead of carrying the deploy key: state then holds no key in
// any command's inputs or outputs. Protocol: draft-miller-ssh-agent (list identities, sign).
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { ed25519PrivateKey, ed25519PublicBlob, sshString, uint32 } from "./sshKey";

const FAILURE = 5;
const REQUEST_IDENTITIES = 11;
const IDENTITIES_ANSWER = 12;
const SIGN_REQUEST = 13;
const SIGN_RESPONSE = 14;

/** The one identity an agent socket offers: one key per socket, so a login proves that key. */
export interface AgentKey {
  blob: Buffer;
  comment: string;
  sign(data: Buffer): Buffer;
}

export function agentKeyFromSeed(seed: Buffer, comment: string): AgentKey {
  const key = ed25519PrivateKey(seed);
  return { blob: ed25519PublicBlob(seed), comment, sign: (data) => crypto.sign(null, data, key) };
}

/**
 * Where a server's agent listens, relative to the project directory. Relative because it is an input
 * of every command: an absolute path would differ between checkouts and rerun them all. The engine
 * starts the program and the plugins in the project directory (sdk/go/common/resource/plugin,
 * execPlugin's `cmd.Dir = pwd`), so both resolve it alike.
 */
export function agentSocketPath(stack: string, server: string, role: "current" | "previous"): string {
  return path.join(".nhs-agent", `${stack}--${server}${role === "previous" ? "--previous" : ""}.sock`);
}

function frame(type: number, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([uint32(body.length + 1), Buffer.from([type]), body]);
}

function readString(b: Buffer, at: number): { value: Buffer; next: number } {
  if (at + 4 > b.length) throw new Error("truncated");
  const n = b.readUInt32BE(at);
  if (at + 4 + n > b.length) throw new Error("truncated");
  return { value: b.subarray(at + 4, at + 4 + n), next: at + 4 + n };
}

/** The reply to one request (its type byte and body, without the length). Anything else is FAILURE. */
export function answer(key: AgentKey, msg: Buffer): Buffer {
  try {
    if (msg[0] === REQUEST_IDENTITIES) {
      return frame(IDENTITIES_ANSWER, Buffer.concat([uint32(1), sshString(key.blob), sshString(key.comment)]));
    }
    if (msg[0] === SIGN_REQUEST) {
      const blob = readString(msg, 1);
      const data = readString(msg, blob.next);
      // ed25519 takes no flags (the RSA hash choices); a request for another key gets FAILURE.
      if (!blob.value.equals(key.blob)) return frame(FAILURE);
      const signature = Buffer.concat([sshString("ssh-ed25519"), sshString(key.sign(data.value))]);
      return frame(SIGN_RESPONSE, sshString(signature));
    }
  } catch {
    // A malformed request: FAILURE, as ssh-agent answers.
  }
  return frame(FAILURE);
}

/** Splits a byte stream into whole messages (without their length prefix) and the unread rest. */
export function splitMessages(buf: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let at = 0;
  while (buf.length - at >= 4) {
    const n = buf.readUInt32BE(at);
    if (buf.length - at - 4 < n) break;
    messages.push(buf.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return { messages, rest: buf.subarray(at) };
}

const MAX_MESSAGE = 256 * 1024;

/**
 * The key each socket this process serves answers with. Per process, not per module instance: the
 * unit tests run the program many times in one process, reloading its modules.
 */
const REGISTRY = Symbol.for("nixos-home-server.sshAgent.served");
const served: Map<string, AgentKey> = ((globalThis as Record<symbol, unknown>)[REGISTRY] ??= newRegistry()) as Map<string, AgentKey>;

/** The registry, and one exit handler for all its sockets (one per socket would trip Node's listener warning). */
function newRegistry(): Map<string, AgentKey> {
  const m = new Map<string, AgentKey>();
  process.once("exit", () => {
    for (const socketPath of m.keys()) fs.rmSync(socketPath, { force: true });
  });
  return m;
}

/**
 * Listens on `socketPath` (its directory made 0700: only this user may ask for signatures) until the
 * process exits, then removes it. The server and its connections are unref'd: the agent never keeps
 * the program alive, and the program lives until the engine has run every command.
 * A socket left by a killed run is replaced; one another live run answers on is an error.
 */
export async function serveAgent(socketPath: string, key: AgentKey): Promise<void> {
  if (served.has(socketPath)) {
    served.set(socketPath, key);
    return;
  }
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  fs.chmodSync(path.dirname(socketPath), 0o700);
  if (fs.existsSync(socketPath)) {
    if (await answers(socketPath)) {
      throw new Error(`${socketPath}: another run of this stack is using this server's deploy-key agent; wait for it to finish`);
    }
    fs.rmSync(socketPath, { force: true });
  }
  const server = net.createServer((conn) => {
    conn.unref();
    let pending: Buffer = Buffer.alloc(0);
    conn.on("data", (chunk) => {
      const { messages, rest } = splitMessages(Buffer.concat([pending, chunk]));
      pending = rest;
      if (pending.length > MAX_MESSAGE) return conn.destroy();
      for (const m of messages) conn.write(answer(served.get(socketPath)!, m));
    });
    conn.on("error", () => conn.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  server.unref();
  served.set(socketPath, key);
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socketPath);
    c.once("connect", () => { c.destroy(); resolve(true); });
    c.once("error", () => resolve(false));
  });
}
