// State holds hashes, not payloads: no release bytes in `pulumi stack export`, a bounded state growth
// per deploy, long names and symlinks carried, and a tree a release cannot carry refused by path.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject, bytesUnder, changed } from "../harness/project";

/**
 * Upper bound on state growth per server per deploy: every byte a deploy adds to the backend (file
 * backend, gzip'd, no backups/ copy; see scripts/pulumi-env.ts), history included. The DIY backend
 * writes each update's whole checkpoint into .pulumi/history/, and nothing turns that off, so a deploy
 * adds one gzip'd checkpoint, its history record and their .attrs files; the stack file itself is
 * replaced. Measured: 13.9-14.2 KB for a one-server stack, 8.9 KB per server with four, 7.0 KB for
 * each server added. Most of a server's share is secret ciphertext, which gzip cannot shrink:
 * pulumi-command keeps each remote resource's whole connection encrypted in its inputs and again in
 * its outputs (8 resources per server; the connections name the deploy-key agent's socket and hold
 * no key), then HostProbe's provider and key seed. The 8 KB per server holds with eight
 * servers (7.8 KB), not with one, two or four; `npm run bench` reports it. This bound catches a regression such as
 * release bytes back in state (+16 KB) or the deploy key back in every connection (+2 KB).
 */
const GROWTH_PER_SERVER_PER_DEPLOY = 15 * 1024;

let host: SimHost;
let project: E2EProject;

const LONG = `nixos/services/${"a-very-long-module-name-".repeat(6)}x.nix`;

beforeAll(async () => {
    [host] = await startHosts(1, { names: ["state1"] });
    project = await E2EProject.create([host], { stack: "state" });
    fs.writeFileSync(path.join(project.dir, LONG), "{ }\n");
    fs.symlinkSync("../default.nix", path.join(project.dir, "nixos/services/shared.nix"));
});

afterAll(async () => {
    await project?.remove();
    await host?.stop();
});

describe("state", () => {
    it("holds the release's hash and path, never its bytes", async () => {
        const r = await project.up();
        expect(r.error ?? "").toBe("");
        const hash = (await project.outputs()).servers[host.name].configHash as string;
        // Long names and a relative symlink arrive in the release.
        expect(Buffer.byteLength(path.basename(LONG))).toBeGreaterThan(100);
        await host.mustRun(`test -f /var/lib/nixos-home-server/current/${LONG}`);
        expect((await host.mustRun("readlink /var/lib/nixos-home-server/current/nixos/services/shared.nix")).trim()).toBe("../default.nix");

        const exported = JSON.stringify((await (await project.stack()).exportStack()).deployment);
        const tarball = fs.readFileSync(path.join(project.dir, ".nhs-releases", `${hash}.tar.gz`));
        const b64 = tarball.toString("base64");
        for (let i = 0; i + 64 <= b64.length; i += Math.max(64, Math.floor(b64.length / 16))) {
            expect(exported.includes(b64.slice(i, i + 64))).toBe(false);
        }
        expect(exported).not.toContain("H4sI"); // base64 of any gzip header
        const resources = JSON.parse(exported).resources as { urn: string; type: string; inputs: Record<string, any> }[];
        // Only the secrets command has a stdin (the secret files, a Pulumi secret); no release rides on one.
        expect(resources.filter((x) => x.inputs && "stdin" in x.inputs).map((x) => x.urn.replace(/.*::/, ""))).toEqual([`${host.name}-secrets`]);
        expect(resources.find((x) => x.urn.endsWith("-secrets"))!.inputs.stdin).toHaveProperty(["4dabf18193072939515e22adb298388d"]);
        const upload = resources.find((x) => x.urn.endsWith("-config-sync-upload"))!;
        expect(upload.inputs.source.hash).toMatch(/^[0-9a-f]{64}$/);
        expect(upload.inputs.source.path).toBe(path.join(project.dir, ".nhs-releases", `${hash}.tar.gz`));
        console.log(`state: one server's checkpoint is ${exported.length} bytes; the release tarball ${tarball.length} bytes`);
    });

    it(`grows by at most ${GROWTH_PER_SERVER_PER_DEPLOY} bytes per server per deploy`, async () => {
        const before = bytesUnder(project.stateDir);
        project.writeHost(host.name, "", "  # one changed line\n");
        // preview --diff shows the upload's asset (path and hash), never the release's bytes.
        const p = await project.preview();
        expect(p.ok).toBe(true);
        expect(p.output).toMatch(/config-sync-upload/);
        expect(p.output).not.toContain("H4sI");
        const r = await project.up();
        expect(r.ok).toBe(true);
        expect(changed(r.ops)).toContain(`${host.name}-config-sync-upload`);
        const growth = bytesUnder(project.stateDir) - before;
        console.log(`state: a one-file-change deploy of one server grew the state by ${growth} bytes`);
        expect(growth).toBeGreaterThan(0);
        expect(growth).toBeLessThanOrEqual(GROWTH_PER_SERVER_PER_DEPLOY);
    });

    it("refuses a tree it cannot carry before any resource, naming each path", async () => {
        fs.symlinkSync("/etc/passwd", path.join(project.dir, "nixos/hosts", host.name, "passwd"));
        try {
            const commands = await host.commandCount();
            const r = await project.preview();
            expect(r.ok).toBe(false);
            expect(r.output + (r.error ?? "")).toContain(`nixos/hosts/${host.name}/passwd: symlink to "/etc/passwd" is absolute`);
            expect(r.output + (r.error ?? "")).not.toContain("error serializing");
            expect(await host.commandCount()).toBe(commands);
        } finally {
            fs.rmSync(path.join(project.dir, "nixos/hosts", host.name, "passwd"));
        }
    });
});
