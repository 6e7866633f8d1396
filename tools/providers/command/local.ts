// local.Command runs (local/commandOutputs.go run()): interpreter default /bin/sh -c, cwd default
// the provider's cwd, environment on top of the provider's, previous outputs in env.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import type { Logger } from "../common/engineLog";
import { localExitCause, runError, trimOneNewline } from "./errors";
import { OutputCollector, running, RunRequest, RunResult } from "./run";

export interface LocalRequest extends RunRequest {
    interpreter?: string[];
    dir?: string;
}

export async function runLocal(req: LocalRequest, logger: Logger): Promise<RunResult> {
    const args = req.interpreter && req.interpreter.length > 0 ? [...req.interpreter] : ["/bin/sh", "-c"];
    args.push(req.command);
    const cwd = req.dir ?? process.cwd();
    const env: Record<string, string | undefined> = { ...process.env, ...(req.environment ?? {}) };
    if (req.addPreviousOutputInEnv) {
        if (req.previousStdout !== "") env.PULUMI_COMMAND_STDOUT = req.previousStdout;
        if (req.previousStderr !== "") env.PULUMI_COMMAND_STDERR = req.previousStderr;
    }
    const out = new OutputCollector(logger, req.logging);
    const hasStdin = req.stdin !== undefined && req.stdin.length > 0;

    let cause: string | undefined;
    if (!fs.existsSync(cwd)) {
        cause = `chdir ${cwd}: no such file or directory`;
    } else {
        cause = await new Promise<string | undefined>((resolve) => {
            // Own process group, so a cancel kills the whole command tree, not just the shell.
            const child = spawn(args[0], args.slice(1), { cwd, env, stdio: [hasStdin ? "pipe" : "ignore", "pipe", "pipe"], detached: true });
            const kill = () => { if (child.pid) process.kill(-child.pid, "SIGKILL"); };
            running.add(kill);
            child.stdout!.on("data", (b: Buffer) => out.stdout(b));
            child.stderr!.on("data", (b: Buffer) => out.stderr(b));
            if (hasStdin) {
                child.stdin!.on("error", () => { /* command exited without reading stdin */ });
                child.stdin!.end(req.stdin);
            }
            child.on("error", (e: NodeJS.ErrnoException) => {
                running.delete(kill);
                const prog = args[0];
                if (e.code === "ENOENT") {
                    resolve(prog.includes("/") ? `fork/exec ${prog}: no such file or directory` : `exec: ${JSON.stringify(prog)}: executable file not found in $PATH`);
                } else resolve(e.message);
            });
            child.on("close", (code, signal) => {
                running.delete(kill);
                resolve(code === 0 ? undefined : localExitCause(code, signal));
            });
        });
    }
    const r = await out.finish();
    if (cause !== undefined) throw new Error(runError(cause, req.command, r.combined));
    return { stdout: trimOneNewline(r.stdout), stderr: trimOneNewline(r.stderr) };
}
