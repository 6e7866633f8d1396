// Error texts of command 1.2.1 (remote/commandOutputs.go, local/commandOutputs.go,
// remote/connection.go), with Go's own error strings where the real one wraps them.
import { goQuote } from "../common/goquote";

/** `%w: running %q:\n%s` with the interleaved stdout+stderr. */
export function runError(cause: string, command: string, output: string): string {
    return `${cause}: running ${goQuote(command)}:\n${output}`;
}

/** golang.org/x/crypto/ssh ExitError (Waitmsg.String). */
export function sshExitCause(code: number | null | undefined, signal: string | undefined, message?: string): string {
    if ((code === null || code === undefined) && !signal) {
        return "wait: remote command exited without exit status or exit signal";
    }
    // Without an exit-status, Go reports 128 + the signal's number.
    const status = code ?? 128 + (signal ? SSH_SIGNAL_NUMBER[signal] ?? 0 : 0);
    let msg = `Process exited with status ${status}`;
    if (signal) msg += ` from signal ${signal}`;
    if (message) msg += `. Reason was: ${message}`;
    return msg;
}

const SSH_SIGNAL_NUMBER: Record<string, number> = {
    ABRT: 6, ALRM: 14, FPE: 8, HUP: 1, ILL: 4, INT: 2, KILL: 9, PIPE: 13, QUIT: 3, SEGV: 11, TERM: 15, USR1: 10, USR2: 12,
};

/** os/exec ExitError (ProcessState.String) for local commands. */
export function localExitCause(code: number | null, signal: NodeJS.Signals | null): string {
    if (signal) return `signal: ${signalName(signal)}`;
    return `exit status ${code ?? -1}`;
}

// Go prints signals by their description (syscall.Signal.String).
const SIGNAL_TEXT: Record<string, string> = {
    SIGKILL: "killed", SIGTERM: "terminated", SIGINT: "interrupt", SIGHUP: "hangup", SIGPIPE: "broken pipe",
    SIGSEGV: "segmentation fault", SIGABRT: "aborted", SIGQUIT: "quit",
};
function signalName(s: string): string {
    return SIGNAL_TEXT[s] ?? s;
}

/** dialWithRetry's final error: `try` is the zero-based attempt index, as in the real one. */
export function dialError(tryIndex: number, cause: string): string {
    return `after ${tryIndex} failed attempts: ${cause}`;
}

export function dialRetryStatus(dials: number, limit: number): string {
    return `Dial ${dials}/${limit === -1 ? "inf" : String(limit)} failed: retrying`;
}

/** reachedDialingErrorLimit: -1 means unlimited. */
export function reachedDialLimit(dials: number, limit: number): boolean {
    return limit > -1 && dials > limit;
}

export function setenvError(key: string): string {
    return `could not set environment variable ${goQuote(key)}: ssh: setenv failed`;
}

export function setenvLog(key: string): string {
    return `Unable to set '${key}'. This only works if your SSH server is configured to accept
\tthese variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could
\tprefix the command itself with the variables in the form 'VAR=value command'`;
}

/** Go's strings.TrimSuffix(s, "\n"): one trailing newline only. */
export function trimOneNewline(s: string): string {
    return s.endsWith("\n") ? s.slice(0, -1) : s;
}
