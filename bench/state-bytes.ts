// Where a server's state bytes go: one simulated host, a first deploy, then each resource's share of
// the gzip'd checkpoint (the checkpoint gzip'd without it, subtracted) and its raw JSON size. Run it
// under the heavy-test lock:  flock /run/nhs-heavy.lock node --import tsx bench/state-bytes.ts
// HostProbe's serialized provider (the dynamic provider's code, kept in state) goes to
// $STATE_BYTES_PROVIDER (default /tmp/nhs-probe-provider.js) for reading.
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { startHosts } from "../test/harness/hosts";
import { E2EProject, FAST_HEALTH } from "../test/harness/project";

async function main(): Promise<void> {
    const hosts = await startHosts(1, { names: ["sd1"] });
    const p = await E2EProject.create(hosts, { stack: "sd", servers: { sd1: { health: FAST_HEALTH } } });
    try {
        const r = await p.up();
        if (!r.ok) throw new Error(r.error);
        const dir = path.join(p.stateDir, ".pulumi", "stacks", "nixos-home-server");
        const f = fs.readdirSync(dir).find((x) => /^sd\.json(\.gz)?$/.test(x))!;
        const raw = fs.readFileSync(path.join(dir, f));
        const text = f.endsWith(".gz") ? zlib.gunzipSync(raw).toString() : raw.toString();
        const d = JSON.parse(text);
        const gz = (o: unknown) => zlib.gzipSync(JSON.stringify(o)).length;
        const total = gz(d);
        console.log(`checkpoint ${raw.length} B on disk, ${total} B gzip'd JSON`);
        const rs = d.checkpoint.latest.resources as { urn: string; type: string; inputs?: Record<string, unknown> }[];
        for (const r of rs) {
            const d2 = JSON.parse(text);
            d2.checkpoint.latest.resources = rs.filter((x) => x.urn !== r.urn);
            console.log(`${String(total - gz(d2)).padStart(6)} ${String(JSON.stringify(r).length).padStart(6)} ${r.type} ${r.urn.split("::").pop()}`);
        }
        const probe = rs.find((r) => r.type.endsWith("HostProbe"))!;
        const file = process.env.STATE_BYTES_PROVIDER ?? "/tmp/nhs-probe-provider.js";
        fs.writeFileSync(file, String(probe.inputs!.__provider));
        console.log(`HostProbe's serialized provider: ${String(probe.inputs!.__provider).length} chars, in ${file}`);
    } finally {
        await p.remove();
        for (const h of hosts) await h.stop();
    }
}
main().catch((e) => { console.error(e); process.exit(1); });
