// Pure parts of the stand-in providers: check defaults, diff rules, error texts, host key parsing.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { goQuote } from "../../tools/providers/common/goquote";
import { isSecret, reveal, secret, UNKNOWN } from "../../tools/providers/common/values";
import { dialError, dialRetryStatus, reachedDialLimit, runError, sshExitCause, localExitCause, trimOneNewline } from "../../tools/providers/command/errors";
import { hostKeyMatches, parseAuthorizedKey } from "../../tools/providers/command/hostKey";
import { ARCHIVE_SIG, ASSET_SIG, checkCommand, COPY_TO_REMOTE, diffInputs, INPUTS, LOCAL_COMMAND, REMOTE_COMMAND, REPLACE_ON_CHANGES } from "../../tools/providers/command/schema";
import { SIG_KEY } from "../../tools/providers/common/values";
import { checkBytes } from "../../tools/providers/random/randomBytes";
import { watchEnd } from "../../tools/providers/command/remote";
import { EventEmitter } from "node:events";
import type { ClientChannel } from "ssh2";

describe("command check", () => {
    it("fills connection and addPreviousOutputInEnv defaults and keeps connection secret", () => {
        const { inputs, failures } = checkCommand(REMOTE_COMMAND, { create: "x", connection: secret({ host: "h" }) });
        expect(failures).toEqual([]);
        expect(inputs.addPreviousOutputInEnv).toBe(true);
        expect(isSecret(inputs.connection)).toBe(true);
        expect(reveal(inputs.connection).value).toEqual({ host: "h", user: "root", port: 22, dialErrorLimit: 10, perDialTimeout: 15 });
    });
    it("keeps explicit values, rejects proxy, bad logging and missing host", () => {
        const ok = checkCommand(REMOTE_COMMAND, { connection: { host: "h", user: "u", port: 2222, dialErrorLimit: -1, perDialTimeout: 0 }, addPreviousOutputInEnv: false });
        expect(reveal(ok.inputs.connection).value).toMatchObject({ user: "u", port: 2222, dialErrorLimit: -1, perDialTimeout: 0 });
        expect(ok.inputs.addPreviousOutputInEnv).toBe(false);
        const bad = checkCommand(REMOTE_COMMAND, { connection: { proxy: { host: "b" } }, logging: "loud" });
        expect(bad.failures.map((f) => f.property).sort()).toEqual(["connection.host", "connection.proxy", "logging"]);
        expect(checkCommand(REMOTE_COMMAND, {}).failures[0].property).toBe("connection");
    });
    it("leaves unknown connections alone during preview", () => {
        expect(checkCommand(REMOTE_COMMAND, { connection: UNKNOWN }).failures).toEqual([]);
    });
});

describe("command diff (infer default: triggers replace, anything else updates)", () => {
    const olds = { create: "a", triggers: ["1"], stdout: "out", addPreviousOutputInEnv: true, connection: secret({ host: "h" }) };
    const diff = (news: Record<string, unknown>) => diffInputs(INPUTS[REMOTE_COMMAND], REPLACE_ON_CHANGES, olds, { ...olds, stdout: undefined, ...news });
    it("no change", () => expect(diff({})).toEqual({ changes: false, replaces: [] }));
    it("create change updates in place", () => expect(diff({ create: "b" })).toEqual({ changes: true, replaces: [] }));
    it("connection change updates in place", () => expect(diff({ connection: secret({ host: "h2" }) })).toEqual({ changes: true, replaces: [] }));
    it("triggers change replaces", () => expect(diff({ triggers: ["2"] })).toEqual({ changes: true, replaces: ["triggers"] }));
    it("unknown triggers replace", () => expect(diff({ triggers: [UNKNOWN] })).toEqual({ changes: true, replaces: ["triggers"] }));
    it("secret-wrapping alone is no change", () => expect(diff({ create: secret("a") }).changes).toBe(false));
    it("local inputs include interpreter and dir", () => {
        expect(diffInputs(INPUTS[LOCAL_COMMAND], REPLACE_ON_CHANGES, { dir: "/a" }, { dir: "/b" })).toEqual({ changes: true, replaces: [] });
    });
});

describe("CopyToRemote check and diff (remote/copyController.go; assets compare by hash)", () => {
    const asset = (hash: string, p = "/a/r.tar.gz") => ({ [SIG_KEY]: ASSET_SIG, hash, path: p });
    const base = { connection: secret({ host: "h" }), remotePath: ".nhs-release-x.tar.gz", triggers: ["x"] };
    it("accepts a path-based file asset, keeps connection secret and adds no command defaults", () => {
        const { inputs, failures } = checkCommand(COPY_TO_REMOTE, { ...base, source: asset("1") });
        expect(failures).toEqual([]);
        expect(isSecret(inputs.connection)).toBe(true);
        expect(inputs.addPreviousOutputInEnv).toBeUndefined();
    });
    it("rejects a missing source, an archive (not in this stand-in) and a missing remotePath", () => {
        expect(checkCommand(COPY_TO_REMOTE, { ...base }).failures.map((f) => f.reason)).toEqual(["either asset or archive must be set"]);
        expect(checkCommand(COPY_TO_REMOTE, { ...base, source: { [SIG_KEY]: ARCHIVE_SIG, path: "/d" } }).failures[0].property).toBe("archive");
        expect(checkCommand(COPY_TO_REMOTE, { connection: base.connection, source: asset("1") }).failures[0].property).toBe("remotePath");
    });
    it("a source at another path with the same hash is no change; a new hash updates; new triggers replace", () => {
        const olds = { ...base, source: asset("1") };
        const diff = (news: Record<string, unknown>) => diffInputs(INPUTS[COPY_TO_REMOTE], REPLACE_ON_CHANGES, olds, { ...olds, ...news });
        expect(diff({ source: asset("1", "/elsewhere/r.tar.gz") })).toEqual({ changes: false, replaces: [] });
        expect(diff({ source: asset("2") })).toEqual({ changes: true, replaces: [] });
        expect(diff({ source: asset("2"), triggers: ["y"] })).toEqual({ changes: true, replaces: ["triggers"] });
    });
});

describe("error texts", () => {
    it("run failure: cause, Go-quoted command, interleaved output", () => {
        expect(runError(sshExitCause(1, undefined), 'echo "x"\nfalse', "x\n")).toBe('Process exited with status 1: running "echo \\"x\\"\\nfalse":\nx\n');
        expect(sshExitCause(null, "KILL")).toBe("Process exited with status 137 from signal KILL");
        expect(sshExitCause(undefined, undefined)).toBe("wait: remote command exited without exit status or exit signal");
        expect(localExitCause(2, null)).toBe("exit status 2");
        expect(localExitCause(null, "SIGKILL")).toBe("signal: killed");
    });
    it("dial retries: -1 unlimited, final error names the zero-based try", () => {
        expect(reachedDialLimit(10, 10)).toBe(false);
        expect(reachedDialLimit(11, 10)).toBe(true);
        expect(reachedDialLimit(1000, -1)).toBe(false);
        expect(dialError(10, "dial tcp 127.0.0.1:1: connect: connection refused")).toBe("after 10 failed attempts: dial tcp 127.0.0.1:1: connect: connection refused");
        expect(dialRetryStatus(3, -1)).toBe("Dial 3/inf failed: retrying");
    });
    it("goQuote and one-newline trim", () => {
        expect(goQuote("a\tb\u0001é")).toBe('"a\\tb\\x01é"');
        expect(trimOneNewline("a\n\n")).toBe("a\n");
    });
});

describe("host key pinning", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hk-"));
    const key = (n: string) => {
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, n)]);
        return fs.readFileSync(path.join(dir, `${n}.pub`), "utf8");
    };
    const a = key("a");
    const b = key("b");
    it("matches only the same key blob, comment and options ignored", () => {
        const blobA = Buffer.from(a.split(" ")[1], "base64");
        expect(hostKeyMatches(parseAuthorizedKey(a), blobA)).toBe(true);
        expect(hostKeyMatches(parseAuthorizedKey(`no-pty ${a.trim()} other-comment`), blobA)).toBe(true);
        expect(hostKeyMatches(parseAuthorizedKey(b), blobA)).toBe(false);
    });
    it("rejects garbage and mislabelled keys", () => {
        expect(() => parseAuthorizedKey("not a key")).toThrow("ssh: no key found");
        expect(() => parseAuthorizedKey(a.replace("ssh-ed25519", "ssh-rsa"))).toThrow("ssh: no key found");
    });
});

describe("random bytes check", () => {
    it("length must be a whole number >= 1", () => {
        expect(checkBytes({ length: 16 }).failures).toEqual([]);
        expect(checkBytes({ length: 0 }).failures[0].reason).toBe("Attribute length value must be at least 1, got: 0");
        expect(checkBytes({}).failures[0].property).toBe("length");
        expect(checkBytes({ length: UNKNOWN }).failures).toEqual([]);
    });
});

describe("remote command: the channel's end", () => {
    it("an exit status and close that arrive before anyone listens are kept (a short command under load)", () => {
        // ssh2 emits exit and close as plain events; the old stand-in attached its listener after
        // awaits, so a command that ended within the exec reply's read lost its status.
        const ch = new EventEmitter();
        const end = watchEnd(ch as unknown as ClientChannel);
        ch.emit("exit", 0, undefined, false, undefined);
        ch.emit("close");
        expect(end).toEqual({ status: { code: 0, signal: undefined, desc: undefined }, closed: true });
        const killed = new EventEmitter();
        const killedEnd = watchEnd(killed as unknown as ClientChannel);
        killed.emit("exit", null, "SIGKILL", false, "");
        expect(killedEnd).toEqual({ status: { code: null, signal: "KILL", desc: "" }, closed: false });
    });
});
