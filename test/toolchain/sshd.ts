// A throwaway OpenSSH server on loopback for tests: its own host key, one authorized ed25519 key,
// AcceptEnv for one variable only (so refused env vars can be tested).
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { ChildProcess, execFileSync, spawn } from "node:child_process";

export interface TestSshd {
    dir: string;
    port: number;
    user: string;
    clientKeyFile: string;
    hostKeyPub: string;
    otherHostKeyPub: string;
    stop(): void;
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.listen(0, "127.0.0.1", () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        });
        s.on("error", reject);
    });
}

function keygen(file: string): void {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", file]);
}

async function waitForPort(port: number, proc: ChildProcess, log: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
        if (proc.exitCode !== null) throw new Error(`sshd exited: ${fs.readFileSync(log, "utf8")}`);
        const ok = await new Promise<boolean>((r) => {
            const c = net.connect(port, "127.0.0.1", () => { c.end(); r(true); });
            c.on("error", () => r(false));
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("sshd did not start");
}

export async function startSshd(parent: string): Promise<TestSshd> {
    const dir = fs.mkdtempSync(path.join(parent, "sshd-"));
    fs.chmodSync(dir, 0o700);
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const hostKey = path.join(dir, "host_ed25519");
    const otherKey = path.join(dir, "other_ed25519");
    const clientKey = path.join(dir, "client_ed25519");
    keygen(hostKey); keygen(otherKey); keygen(clientKey);
    fs.copyFileSync(`${clientKey}.pub`, path.join(dir, "authorized_keys"));
    const port = await freePort();
    const config = path.join(dir, "sshd_config");
    fs.writeFileSync(config, [
        `ListenAddress 127.0.0.1`, `Port ${port}`, `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`, `PidFile ${path.join(dir, "sshd.pid")}`,
        "StrictModes no", "UsePAM no", "PermitRootLogin prohibit-password", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "AcceptEnv NHS_OK", "LogLevel ERROR", "",
    ].join("\n"));
    const log = path.join(dir, "sshd.log");
    const proc = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", fs.openSync(log, "w")] });
    await waitForPort(port, proc, log);
    return {
        dir, port, user: os.userInfo().username, clientKeyFile: clientKey,
        hostKeyPub: fs.readFileSync(`${hostKey}.pub`, "utf8"),
        otherHostKeyPub: fs.readFileSync(`${otherKey}.pub`, "utf8"),
        stop: () => { proc.kill("SIGTERM"); },
    };
}
