// CI integration check from outside the hosts: each server's HTTP health checks, sent from the
// CI runner to the server's own address instead of localhost.
// Usage: node check-http.mjs STACK SERVERS_CONFIG_JSON_FILE (output of `pulumi config get servers --json`)
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** The URL as seen from outside: a loopback host becomes the server's address; anything else stays. */
export function externalUrl(url, host) {
  const u = new URL(url);
  if (LOOPBACK.has(u.hostname)) u.hostname = host.includes(":") ? `[${host}]` : host;
  return u.toString();
}

/** Every { server, url, status } to check, from the stack's `servers` config. */
export function httpChecks(servers) {
  return servers.flatMap((s) => (s.health?.http ?? []).map((c) => ({ server: s.name, url: externalUrl(c.url, s.host), status: c.status ?? 200 })));
}

/** `pulumi config get --json` prints { value, objectValue?, secret }; the list is in objectValue or value. */
export function serversFromConfigJson(text) {
  const j = JSON.parse(text);
  const v = j.objectValue ?? (typeof j.value === "string" ? JSON.parse(j.value) : j.value ?? j);
  if (!Array.isArray(v)) throw new Error("servers config is not a list");
  return v;
}

async function main() {
  const [stack, file] = process.argv.slice(2);
  const checks = httpChecks(serversFromConfigJson(readFileSync(file, "utf8")));
  const problems = [];
  for (const c of checks) {
    let got;
    try {
      got = (await fetch(c.url, { redirect: "manual", signal: AbortSignal.timeout(10_000) })).status;
    } catch (e) {
      got = `no answer (${e.cause?.code ?? e.message})`;
    }
    console.log(`${stack}: ${c.server} ${c.url} -> ${got} (want ${c.status})`);
    if (got !== c.status) problems.push(`${c.server}: ${c.url} returned ${got}, want ${c.status}`);
  }
  if (checks.length === 0) console.log(`${stack}: no HTTP checks in the stack`);
  if (problems.length > 0) {
    console.error(`${stack}: HTTP checks from outside failed:\n  - ${problems.join("\n  - ")}`);
    process.exit(1);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
