// remote.Command through the real engine and the stand-in plugin, against a real sshd on loopback.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineProject } from "./engineProject";
import { startSshd, TestSshd } from "./sshd";

const PROGRAM = `
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
const cfg = new pulumi.Config();
const dir = process.env.T_DIR!;
const base = {
    host: "127.0.0.1", port: Number(process.env.T_PORT), user: process.env.T_USER!,
    privateKey: fs.readFileSync(process.env.T_KEY!, "utf8"), dialErrorLimit: 0, perDialTimeout: 5,
};
const main = new command.remote.Command("main", {
    connection: { ...base, hostKey: process.env.T_HOSTKEY! },
    create: "cat; echo \\"$NHS_OK\\"; echo run >> '" + dir + "/runs'",
    stdin: "piped-in\\n",
    environment: { NHS_OK: "env-ok" },
    triggers: [cfg.get("trigger") ?? "t1"],
});
const quiet = new command.remote.Command("quiet", { connection: base, create: "echo quiet-marker-123", logging: "none" });
const loud = new command.remote.Command("loud", { connection: base, create: "echo loud-marker-456" });
if (cfg.getBoolean("fail")) {
    new command.remote.Command("bad", { connection: base, create: "echo out-before-fail; exit 3" });
}
if (cfg.getBoolean("wrongKey")) {
    new command.remote.Command("pinned", {
        connection: { ...base, hostKey: process.env.T_OTHER_HOSTKEY! }, create: "touch '" + dir + "/pinned-ran'",
    });
    new command.remote.Command("noenv", {
        connection: base, create: "touch '" + dir + "/noenv-ran'", environment: { NOT_ACCEPTED: "x" },
    });
}
export const mainStdout = main.stdout;
export const quietLength = quiet.stdout.apply((s) => s.length);
export const loudStdout = loud.stdout;
`;

describe("remote.Command over real SSH through the real engine", () => {
    let p: EngineProject;
    let sshd: TestSshd;
    let keyBody: string[];

    beforeAll(async () => {
        p = EngineProject.create(PROGRAM);
        sshd = await startSshd(p.dir);
        Object.assign(p.env, {
            T_DIR: sshd.dir, T_PORT: String(sshd.port), T_USER: sshd.user, T_KEY: sshd.clientKeyFile,
            T_HOSTKEY: sshd.hostKeyPub, T_OTHER_HOSTKEY: sshd.otherHostKeyPub,
        });
        // The private key's base64 lines: none may show up in engine output or state.
        keyBody = fs.readFileSync(sshd.clientKeyFile, "utf8").split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"));
    });
    afterAll(() => {
        sshd?.stop();
        p?.remove();
    });

    const leaks = (text: string) => keyBody.filter((l) => text.includes(l));

    it("creates: stdin delivered, accepted env set, pinned host key matched, logging honoured, no secret leaked", () => {
        const up = p.run("up", "--yes", "--skip-preview");
        expect(up.code, up.out).toBe(0);
        const o = p.outputs();
        expect(o.mainStdout).toBe("piped-in\nenv-ok");
        expect(o.loudStdout).toBe("loud-marker-456");
        expect(o.quietLength).toBe("quiet-marker-123".length);
        // Default logging streams stdout to the engine; logging "none" keeps it out.
        expect(up.out).toContain("loud-marker-456");
        expect(up.out).not.toContain("quiet-marker-123");
        expect(fs.readFileSync(path.join(sshd.dir, "runs"), "utf8")).toBe("run\n");
        expect(leaks(up.out)).toEqual([]);
        const state = p.stateText();
        expect(state).toContain("quiet-marker-123"); // state is readable plaintext where not secret...
        expect(leaks(state)).toEqual([]); // ...but the key never is.
    });

    it("a changed trigger replaces, running create again", () => {
        expect(p.run("config", "set", "trigger", "t2").code).toBe(0);
        const up = p.run("up", "--yes", "--skip-preview");
        expect(up.code, up.out).toBe(0);
        expect(up.out).toMatch(/\+-1 replaced/);
        expect(fs.readFileSync(path.join(sshd.dir, "runs"), "utf8")).toBe("run\nrun\n");
    });

    it("a failing command fails the up with the real provider's message", () => {
        expect(p.run("config", "set", "fail", "true").code).toBe(0);
        const up = p.run("up", "--yes", "--skip-preview");
        expect(up.code).not.toBe(0);
        expect(up.out).toContain('Process exited with status 3: running "echo out-before-fail; exit 3":');
        expect(up.out).toContain("out-before-fail");
        expect(leaks(up.out)).toEqual([]);
        expect(p.run("config", "set", "fail", "false").code).toBe(0);
    });

    it("a wrong pinned host key, or a refused env var, fails before anything runs", () => {
        expect(p.run("config", "set", "wrongKey", "true").code).toBe(0);
        const up = p.run("up", "--yes", "--skip-preview");
        expect(up.code).not.toBe(0);
        expect(up.out).toContain("after 0 failed attempts: ssh: handshake failed: ssh: host key mismatch");
        expect(up.out).toContain('could not set environment variable "NOT_ACCEPTED": ssh: setenv failed');
        expect(fs.existsSync(path.join(sshd.dir, "pinned-ran"))).toBe(false);
        expect(fs.existsSync(path.join(sshd.dir, "noenv-ran"))).toBe(false);
        expect(leaks(up.out)).toEqual([]);
        expect(leaks(p.stateText())).toEqual([]);
    });
});
