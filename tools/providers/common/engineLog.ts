// Log messages to the engine for one resource, as the Go providers do through their logger.
// Status (ephemeral) messages show in the progress display, like the real command provider's
// streamed output; plain messages become diagnostics.
import * as grpc from "@grpc/grpc-js";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const enginerpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const engineproto = require("@pulumi/pulumi/proto/engine_pb");

export type Severity = "debug" | "info" | "warning" | "error";

export interface Logger {
    log(severity: Severity, message: string, opts?: { ephemeral?: boolean }): Promise<void>;
}

const SEVERITY: Record<Severity, number> = { debug: 0, info: 1, warning: 2, error: 3 };

let client: { log(req: unknown, cb: (err: Error | null) => void): void } | undefined;

/** The engine address is the provider's first non-flag argument (as the SDK's own parser reads it). */
export function engineAddress(argv: string[]): string | undefined {
    const clean: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--logtostderr" || a.startsWith("-v=")) continue;
        if (a === "--tracing") { i++; continue; }
        clean.push(a);
    }
    return clean[0];
}

export function connectEngine(addr: string | undefined): void {
    if (!addr) return;
    client = new enginerpc.EngineClient(addr, grpc.credentials.createInsecure(), {
        "grpc.max_receive_message_length": 400 * 1024 * 1024,
    });
}

export function loggerFor(urn: string): Logger {
    return {
        log(severity, message, opts) {
            const c = client;
            if (!c) return Promise.resolve();
            const req = new engineproto.LogRequest();
            req.setSeverity(SEVERITY[severity]);
            req.setMessage(message);
            req.setUrn(urn);
            req.setStreamid(0);
            req.setEphemeral(opts?.ephemeral ?? false);
            // A lost log line must never fail the operation.
            return new Promise((resolve) => c.log(req, () => resolve()));
        },
    };
}

/** Splits a byte stream into lines (like Go's bufio.Scanner) and hands each to `emit`. */
export class LineSplitter {
    private buf = "";
    constructor(private readonly emit: (line: string) => void) {}
    write(chunk: Buffer | string): void {
        this.buf += chunk.toString();
        let i: number;
        while ((i = this.buf.indexOf("\n")) >= 0) {
            const line = this.buf.slice(0, i).replace(/\r$/, "");
            this.buf = this.buf.slice(i + 1);
            this.emit(line);
        }
    }
    end(): void {
        if (this.buf.length > 0) this.emit(this.buf.replace(/\r$/, ""));
        this.buf = "";
    }
}
