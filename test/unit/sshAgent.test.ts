// The deploy-key agent against OpenSSH's own agent clients (ssh-add, ssh-keygen -Y sign), over a real socket.
import { execFile, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { afterAll, describe, expect, it } from "vitest";
import { agentKeyFromSeed, agentSocketPath, answer, serveAgent, splitMessages } from "../../components/lib/sshAgent";
import { openSshKeyPairFromSeed } from "../../components/lib/sshKey";

const run = promisify(execFile);
const seed = Buffer.from("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f", "hex");
const other = Buffer.alloc(32, 7);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-agent-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("serveAgent", () => {
  it("offers exactly its one key to ssh-add, and signs for ssh-keygen -Y sign, verifiable with the public key", async () => {
    const sock = path.join(dir, "a", "one.sock");
    await serveAgent(sock, agentKeyFromSeed(seed, "nhs-deploy@t/one"));
    expect(fs.statSync(path.dirname(sock)).mode & 0o777).toBe(0o700);
    const env = { ...process.env, SSH_AUTH_SOCK: sock };
    const pair = openSshKeyPairFromSeed(seed, "nhs-deploy@t/one");
    // Asynchronous: the agent answers from this process's event loop.
    const listed = (await run("ssh-add", ["-L"], { env })).stdout.trim().split("\n");
    expect(listed).toEqual([pair.publicKey]);

    const pub = path.join(dir, "one.pub");
    const msg = path.join(dir, "msg");
    fs.writeFileSync(pub, `${pair.publicKey}\n`);
    fs.writeFileSync(msg, "deploy generation 43\n");
    await run("ssh-keygen", ["-Y", "sign", "-f", pub, "-n", "file", msg], { env });
    const check = await run("sh", ["-c", `ssh-keygen -Y check-novalidate -n file -f "$1" -s "$2" < "$3"`, "sh", pub, `${msg}.sig`, msg]);
    expect(check.stdout).toMatch(/Good "file" signature/);
  });

  it("refuses to sign for a key it does not hold", async () => {
    const sock = path.join(dir, "b", "two.sock");
    await serveAgent(sock, agentKeyFromSeed(seed, "k"));
    const wrongPub = path.join(dir, "other.pub");
    fs.writeFileSync(wrongPub, `${openSshKeyPairFromSeed(other, "x").publicKey}\n`);
    fs.writeFileSync(path.join(dir, "m2"), "x\n");
    await expect(run("ssh-keygen", ["-Y", "sign", "-f", wrongPub, "-n", "file", path.join(dir, "m2")], { env: { ...process.env, SSH_AUTH_SOCK: sock } })).rejects.toThrow();
  });

  it("replaces a socket a killed run left behind, and refuses one another live process serves", async () => {
    const stale = path.join(dir, "c", "stale.sock");
    fs.mkdirSync(path.dirname(stale), { recursive: true });
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(stale, r));
    // Closing a listener unlinks its socket in Node; a killed process leaves the file behind instead.
    const keep = path.join(dir, "c", "keep");
    fs.linkSync(stale, keep);
    await new Promise<void>((r) => dead.close(() => r()));
    fs.linkSync(keep, stale);
    await serveAgent(stale, agentKeyFromSeed(seed, "k"));
    expect((await run("ssh-add", ["-L"], { env: { ...process.env, SSH_AUTH_SOCK: stale } })).stdout).toContain("ssh-ed25519 ");

    const live = path.join(dir, "d", "live.sock");
    fs.mkdirSync(path.dirname(live), { recursive: true });
    const child = spawn(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(live)}, () => console.log("up"))`]);
    await new Promise((r) => child.stdout.once("data", r));
    try {
      await expect(serveAgent(live, agentKeyFromSeed(seed, "k"))).rejects.toThrow(/another run of this stack is using this server's deploy-key agent/);
    } finally {
      child.kill();
    }
  });
});

describe("serveAgent in a program's process", () => {
  it("serves twelve sockets with one exit handler, without Node's listener warning, and removes them all when the process exits", async () => {
    const sockDir = path.join(dir, "many");
    const code = [
      `const { serveAgent, agentKeyFromSeed } = require(${JSON.stringify(path.resolve(__dirname, "../../components/lib/sshAgent.ts"))});`,
      `(async () => { for (let i = 0; i < 12; i++) await serveAgent(${JSON.stringify(sockDir)} + "/s" + i + ".sock", agentKeyFromSeed(Buffer.alloc(32, i), "k"));`,
      `console.log(require("fs").readdirSync(${JSON.stringify(sockDir)}).length, process.listenerCount("exit")); })();`,
    ].join("\n");
    const r = await run(process.execPath, ["--import", "tsx", "-e", code], { cwd: path.resolve(__dirname, "../..") });
    // The agent never keeps the process alive: it exited on its own, after printing.
    expect(r.stdout.trim()).toBe("12 1");
    expect(r.stderr).not.toMatch(/MaxListenersExceeded/);
    expect(fs.readdirSync(sockDir)).toEqual([]);
  });
});

describe("agent protocol", () => {
  const key = agentKeyFromSeed(seed, "c");
  it("answers anything but list and sign, and malformed requests, with FAILURE", () => {
    const failure = Buffer.from([0, 0, 0, 1, 5]);
    expect(answer(key, Buffer.from([17]))).toEqual(failure); // add identity
    expect(answer(key, Buffer.from([13, 0, 0, 9]))).toEqual(failure); // truncated sign request
  });

  it("splits a stream into whole messages whatever the chunking", () => {
    const m = (type: number) => Buffer.from([0, 0, 0, 1, type]);
    const stream = Buffer.concat([m(11), m(11), Buffer.from([0, 0, 0])]);
    const { messages, rest } = splitMessages(stream);
    expect(messages.map((x) => x[0])).toEqual([11, 11]);
    expect(rest).toEqual(Buffer.from([0, 0, 0]));
  });

  it("names sockets by stack, server and role, relative to the project directory", () => {
    expect(agentSocketPath("staging", "nixos-prod", "current")).toBe(".nhs-agent/staging--nixos-prod.sock");
    expect(agentSocketPath("staging", "nixos-prod", "previous")).toBe(".nhs-agent/staging--nixos-prod--previous.sock");
  });
});
