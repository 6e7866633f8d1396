// The stack output summarizing a server's last deploy event, from the host's result lines.
import { parseResultLine } from "./result";

export interface EventSummary {
  /** The host's event name (verified, rolled-back, failed...). */
  event: string;
  /** The result line's status (ok, rolled-back, failed...). */
  result: string;
  generationFrom: number | null;
  generationTo: number | null;
  /** Seconds by phase: activate, verify, rollback, total. */
  durations: Record<string, number>;
  /** The release's git commit ("-dirty" when packed from uncommitted changes), or "unknown". */
  commit: string;
}

const num = (v: string | undefined): number | null => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);

/** `activate:3,verify:2` -> { activate: 3, verify: 2 }; "-" or nothing -> {}. */
export function parseDurations(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (text ?? "").split(",")) {
    const m = /^([a-z]+):(\d+)$/.exec(part);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** From Verify's result line (event=, durations=, commit= from events.sh), Rebuild's as the fallback. */
export function summarizeLastEvent(deployStdout: string, verifyStdout: string, host: string): EventSummary {
  const d = parseResultLine(deployStdout, { step: "deploy", host });
  const v = parseResultLine(verifyStdout, { step: "verify", host });
  return {
    event: v.event ?? (v.status === "ok" ? "verified" : v.status),
    result: v.status,
    generationFrom: num(v.previous) ?? num(d.previous),
    generationTo: num(v.generation),
    durations: v.durations ? parseDurations(v.durations) : { activate: num(d.duration) ?? 0 },
    commit: v.commit ?? "unknown",
  };
}
