// Release helpers for tests: build a flake release tree carrying the host scripts,
// pack it deterministically, upload it where ConfigSync's CopyToRemote puts it, sync it with the bootstrap
// and call the host scripts the way the Pulumi program does.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { packRelease as packEntries, treeEntries } from "../../components/lib/release";
import { renderHostScript, renderSyncBootstrap, uploadName } from "../../components/lib/remoteCommand";
import type { SimHost, SshOptions } from "./hosts";
import type { ExecResult } from "./exec";

export const BASE = "/var/lib/nixos-home-server";
const HOST_SCRIPTS = path.join(__dirname, "..", "..", "components", "host");

export interface ReleaseSpec {
  /** NixOS configurations in this release: name -> its simulated behaviour. */
  hosts: Record<string, { units?: string[]; faults?: string[]; config?: string }>;
  /** Any extra files (relative path -> content), e.g. to make a release differ. */
  files?: Record<string, string>;
}

/** Writes a release tree (flake.nix, nixos/hosts/<name>/, .nhs/) into a new temp dir. */
export function makeRelease(spec: ReleaseSpec): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-release-"));
  fs.writeFileSync(path.join(dir, "flake.nix"), "{ outputs = _: { }; }\n");
  fs.writeFileSync(path.join(dir, "flake.lock"), "{}\n");
  for (const [name, h] of Object.entries(spec.hosts)) {
    const d = path.join(dir, "nixos", "hosts", name);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, "default.nix"), h.config ?? `{ networking.hostName = "${name}"; }\n`);
    const env = [`units=${(h.units ?? ["sshd.service", "nginx.service"]).join(" ")}`];
    if (h.faults?.length) env.push(`faults=${h.faults.join(",")}`);
    fs.writeFileSync(path.join(d, "sim.env"), env.join("\n") + "\n");
  }
  for (const [rel, content] of Object.entries(spec.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  fs.mkdirSync(path.join(dir, ".nhs"));
  for (const f of fs.readdirSync(HOST_SCRIPTS).filter((f) => f.endsWith(".sh"))) {
    fs.copyFileSync(path.join(HOST_SCRIPTS, f), path.join(dir, ".nhs", f));
  }
  return dir;
}

/** The release packed exactly as the Pulumi program packs it: deterministic .tar.gz + sha256. */
export async function packRelease(dir: string): Promise<{ tarball: Buffer; hash: string }> {
  return packEntries(treeEntries(dir));
}

/** Puts `tarball` where ConfigSync's CopyToRemote uploads a release named `hash`: ~/<uploadName>. */
export async function uploadRelease(host: SimHost, tarball: Buffer, hash: string, opts: SshOptions = {}): Promise<void> {
  const r = await host.ssh(`cat > ${uploadName(hash)}`, { ...opts, input: tarball });
  if (r.code !== 0) throw new Error(`upload to ${host.name} failed: ${r.stderr}`);
}

/** Uploads a release, then runs the program's own sync bootstrap; resolves to receive's result. */
export async function syncRelease(host: SimHost, dir: string, keep = 3, opts: SshOptions = {}): Promise<ExecResult & { hash: string }> {
  const { tarball, hash } = await packRelease(dir);
  await uploadRelease(host, tarball, hash, opts);
  const r = await host.ssh(renderSyncBootstrap(opts.user ?? host.deployUser, hash, keep), opts);
  return { ...r, hash };
}

/** Runs releases/<hash>/.nhs/<script> exactly as the program renders it. */
export function hostScript(host: SimHost, hash: string, script: string, args: string[], opts: SshOptions = {}): Promise<ExecResult> {
  return host.ssh(renderHostScript(opts.user ?? host.deployUser, hash, script, args), opts);
}

/** Parses the one `nhs-result` line: key=value pairs, `report` is the rest of the line. */
export function parseResult(stdout: string): Record<string, string> {
  const lines = stdout.split("\n").filter((l) => l.startsWith("nhs-result "));
  if (lines.length !== 1) throw new Error(`expected exactly one nhs-result line, got ${lines.length}: ${stdout}`);
  const line = lines[0].slice("nhs-result ".length);
  const out: Record<string, string> = {};
  const ri = line.search(/(^| )report=/);
  const head = ri >= 0 ? line.slice(0, ri) : line;
  if (ri >= 0) out.report = line.slice(ri).replace(/^ ?report=/, "");
  for (const kv of head.split(" ").filter(Boolean)) {
    const i = kv.indexOf("=");
    if (i < 0) throw new Error(`malformed nhs-result field '${kv}'`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}
