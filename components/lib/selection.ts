// Selection for `npm run deploy -- <stack> --only NAME|tag:TAG`: which servers, the Pulumi targets
// that cover exactly their resources, and the per-server table printed after the run.
import { parseResultLine } from "./result";

/** Names NixosServer gives its resources: `<server>-<suffix>`, plus the component named `<server>`. */
export const SERVER_RESOURCE_SUFFIXES = [
  "deploy-key",
  "deploy-key-seed",
  "deploy-key-seed-even",
  "key-authorization",
  "key-authorization-dispatcher",
  "key-authorization-install",
  "key-authorization-rotate",
  "key-authorization-login-test",
  "config-sync-upload",
  "config-sync",
  "secrets",
  "probe",
  "rebuild",
  "verify",
] as const;

export interface Selectable {
  name: string;
  tags?: readonly string[];
}

export class SelectionError extends Error {}

/**
 * The servers `selectors` name (`NAME` or `tag:TAG`), in stack order; none given = all. A selector
 * that matches nothing is an error listing the names and tags that exist.
 */
export function selectServers(stack: string, servers: readonly Selectable[], selectors: readonly string[]): string[] {
  if (selectors.length === 0) return servers.map((s) => s.name);
  const chosen = new Set<string>();
  const unmatched: string[] = [];
  for (const sel of selectors) {
    const tag = sel.startsWith("tag:") ? sel.slice(4) : undefined;
    const hits = servers.filter((s) => (tag !== undefined ? (s.tags ?? []).includes(tag) : s.name === sel));
    if (hits.length === 0) unmatched.push(sel);
    for (const h of hits) chosen.add(h.name);
  }
  if (unmatched.length > 0) {
    const tags = [...new Set(servers.flatMap((s) => s.tags ?? []))];
    throw new SelectionError(
      `--only ${unmatched.join(", ")}: no such server in stack "${stack}". ` +
        `Servers: ${servers.map((s) => s.name).join(", ") || "(none)"}. Tags: ${tags.map((t) => `tag:${t}`).join(", ") || "(none)"}.`,
    );
  }
  return servers.filter((s) => chosen.has(s.name)).map((s) => s.name);
}

/** `--target` globs for one server: its component and each of its resources, by exact name. */
export function serverTargets(server: string): string[] {
  return [server, ...SERVER_RESOURCE_SUFFIXES.map((s) => `${server}-${s}`)].map((name) => `**::${name}`);
}

/** The server a resource name belongs to, if it is one of `servers`' resources. */
export function serverOf(resourceName: string, servers: readonly string[]): string | undefined {
  if (servers.includes(resourceName)) return resourceName;
  for (const s of SERVER_RESOURCE_SUFFIXES) {
    const server = resourceName.endsWith(`-${s}`) ? resourceName.slice(0, -s.length - 1) : undefined;
    if (server && servers.includes(server)) return server;
  }
  return undefined;
}

/** What one run did to one server, gathered from engine events. */
export interface ServerRun {
  name: string;
  /** Steps other than same/read/refresh. */
  changed: boolean;
  failed: boolean;
  /** Rebuild's stdout, Verify's stdout, or the text of Verify's failure (it carries the result line). */
  rebuildStdout?: string;
  verifyText?: string;
  firstMs?: number;
  lastMs?: number;
}

export interface TableRow {
  server: string;
  result: string;
  generation: string;
  duration: string;
  checks: string;
}

function resultOf(text: string | undefined, step: string, host: string): Record<string, string> | undefined {
  if (!text) return undefined;
  try {
    return parseResultLine(text.split(/\r?\n/).filter((l) => l.startsWith("nhs-result")).slice(-1).join("\n"), { step, host });
  } catch {
    return undefined;
  }
}

export function tableRow(r: ServerRun): TableRow {
  const deploy = resultOf(r.rebuildStdout, "deploy", r.name);
  const verify = resultOf(r.verifyText, "verify", r.name);
  let generation = "-";
  if (deploy && verify?.status === "rolled-back") generation = `${deploy.previous} → ${verify.generation} (${deploy.generation} rolled back)`;
  else if (deploy) generation = `${deploy.previous} → ${deploy.generation}`;
  const result = r.failed ? (verify?.status === "rolled-back" ? "FAILED, rolled back" : "FAILED") : r.changed ? (verify ? "verified" : "deployed") : "unchanged";
  const checks = verify ? (verify.failed ? `failed: ${verify.failed}` : `${verify.checks} pass`) : "-";
  const duration = r.firstMs !== undefined && r.lastMs !== undefined && r.changed ? `${((r.lastMs - r.firstMs) / 1000).toFixed(1)}s` : "-";
  return { server: r.name, result, generation, duration, checks };
}

export function renderTable(rows: readonly TableRow[]): string {
  const head: TableRow = { server: "server", result: "result", generation: "generation", duration: "duration", checks: "checks" };
  const all = [head, ...rows];
  const keys = Object.keys(head) as (keyof TableRow)[];
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(...all.map((r) => [...r[k]].length))])) as Record<keyof TableRow, number>;
  const line = (r: TableRow) => keys.map((k) => r[k] + " ".repeat(width[k] - [...r[k]].length)).join("  ").trimEnd();
  return [line(head), keys.map((k) => "-".repeat(width[k])).join("  "), ...rows.map(line)].join("\n");
}
