// CI integration check: every server in the stack's `servers` output passed verification.
// Usage: node check-outputs.mjs STACK OUTPUTS_JSON_FILE
import { readFileSync } from "node:fs";

const [stack, file] = process.argv.slice(2);
const servers = JSON.parse(readFileSync(file, "utf8"));
const problems = [];
for (const [name, s] of Object.entries(servers)) {
  if (!/^all \d+ checks pass on generation \d+$/.test(s.verification ?? "")) {
    problems.push(`${name}: verification is ${JSON.stringify(s.verification)}`);
  }
  if (!String(s.storePath ?? "").startsWith("/nix/store/")) problems.push(`${name}: no store path`);
}
if (Object.keys(servers).length === 0) problems.push("no servers in the stack outputs");
for (const [name, s] of Object.entries(servers)) {
  console.log(`${stack}: ${name} generation ${s.generation} ${s.storePath}: ${s.verification}`);
}
if (problems.length > 0) {
  console.error(`${stack}: integration check failed:\n  - ${problems.join("\n  - ")}`);
  process.exit(1);
}
