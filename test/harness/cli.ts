// `npm run hosts -- up N | down | status`: simulated NixOS hosts for people and
// benchmarks. State lives in HOSTS_DIR (default /run/nhs-hosts), so `down` finds them.
import { startHosts, stopAllHosts, listHosts, SimHost, HOSTS_DIR } from "./hosts";

function describe(h: SimHost): string {
  return [
    `${h.name}: ${h.exists() ? "up" : "DOWN (namespace missing)"}`,
    `  address   ${h.address} port ${h.port} (network namespace ${h.netns})`,
    `  users     deploy user '${h.deployUser}' (key ${h.privateKeyPath}), bootstrap user '${h.bootstrapUser}' (password in ${h.dir}/bootstrap-password, or the same key)`,
    `  host key  ${h.hostKeyLine}`,
    `  ssh       ssh -i ${h.privateKeyPath} -o UserKnownHostsFile=${h.knownHostsPath} ${h.deployUser}@${h.address}`,
    `  root      nsenter --mount=${h.nsFile} --net=/run/netns/${h.netns} sh`,
  ].join("\n");
}

async function main(): Promise<void> {
  const [verb, arg] = process.argv.slice(2);
  if (verb === "up") {
    const n = Number(arg ?? "1");
    if (!Number.isInteger(n) || n < 1 || n > 50) throw new Error(`up: N must be 1..50, got '${arg}'`);
    const hosts = await startHosts(n, { owner: "cli" });
    for (const h of hosts) console.log(describe(h));
  } else if (verb === "down") {
    await stopAllHosts();
    console.log(`all simulated hosts in ${HOSTS_DIR} stopped`);
  } else if (verb === "status") {
    const hosts = listHosts();
    if (hosts.length === 0) console.log("no simulated hosts");
    for (const h of hosts) console.log(describe(h));
  } else {
    console.error("usage: npm run hosts -- up N | down | status");
    process.exit(2);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
