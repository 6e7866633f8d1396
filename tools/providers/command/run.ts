// What a local or remote run needs and gives back, shared by both runners.
import type { Logger } from "../common/engineLog";
import { LineSplitter } from "../common/engineLog";
import { shouldLogStderr, shouldLogStdout } from "./schema";

export interface RunRequest {
    command: string;
    stdin?: string;
    environment?: Record<string, string>;
    logging?: unknown;
    addPreviousOutputInEnv: boolean;
    previousStdout: string;
    previousStderr: string;
}

export interface RunResult { stdout: string; stderr: string }

/** Running operations register a kill function so an engine Cancel can stop them. */
export const running = new Set<() => void>();

export function cancelAll(): void {
    for (const kill of running) {
        try { kill(); } catch { /* already gone */ }
    }
}

/** Collects stdout/stderr, the interleaved copy used in error texts, and streams log lines. */
export class OutputCollector {
    private out: Buffer[] = [];
    private err: Buffer[] = [];
    private both: Buffer[] = [];
    private readonly lines: LineSplitter;
    private pending: Promise<void>[] = [];

    constructor(logger: Logger, private readonly logging: unknown) {
        this.lines = new LineSplitter((line) => {
            this.pending.push(logger.log("info", line, { ephemeral: true }));
        });
    }
    stdout(b: Buffer): void {
        this.out.push(b); this.both.push(b);
        if (shouldLogStdout(this.logging)) this.lines.write(b);
    }
    stderr(b: Buffer): void {
        this.err.push(b); this.both.push(b);
        if (shouldLogStderr(this.logging)) this.lines.write(b);
    }
    async finish(): Promise<{ stdout: string; stderr: string; combined: string }> {
        this.lines.end();
        await Promise.all(this.pending);
        return {
            stdout: Buffer.concat(this.out).toString(),
            stderr: Buffer.concat(this.err).toString(),
            combined: Buffer.concat(this.both).toString(),
        };
    }
}
