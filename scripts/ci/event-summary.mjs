// CI: each server's last deploy event (the stack's `servers` output, `lastEvent`) as a Markdown
// table, appended to the GitHub job summary ($GITHUB_STEP_SUMMARY) or printed.
// Usage: pulumi stack output servers --json | node event-summary.mjs STACK
import { appendFileSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const cell = (v) => String(v ?? "–").replace(/\|/g, "\\|").replace(/\n/g, " ");

/** Pure: the Markdown table for a `servers` output object. */
export function eventTable(stack, servers) {
  const rows = Object.entries(servers ?? {}).map(([name, s]) => {
    const e = s.lastEvent ?? {};
    // Phases in the order they happen (JSON outputs come back with sorted keys).
    const order = ["activate", "verify", "rollback", "total"];
    const d = Object.entries(e.durations ?? {})
      .sort(([a], [b]) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99))
      .map(([p, sec]) => `${p} ${sec}s`)
      .join(", ");
    return `| ${cell(name)} | ${cell(e.event)} | ${cell(e.result)} | ${cell(e.generationFrom)} → ${cell(e.generationTo)} | ${cell(d || undefined)} | ${cell(e.commit ? String(e.commit).slice(0, 12) + (String(e.commit).endsWith("-dirty") ? " (dirty)" : "") : undefined)} |`;
  });
  return [`### Last deploy events: ${stack}`, "", "| server | event | result | generation | durations | commit |", "|---|---|---|---|---|---|", ...rows, ""].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const stack = process.argv[2] ?? "stack";
  let servers = {};
  try {
    servers = JSON.parse(readFileSync(0, "utf8") || "{}");
  } catch {
    servers = {};
  }
  const table = `${eventTable(stack, servers)}\n`;
  if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, table);
  else process.stdout.write(table);
}
