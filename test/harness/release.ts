// Release helpers for tests: build a flake release tree carrying the host scripts,
// pack it deterministically, upload it by SFTP where ConfigSync's CopyToRemote puts it, sync it
// through the dispatcher and call the host scripts the way the Pulumi program does.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { packRelease as packEntries, treeEntries } from "../../components/lib/release";
import { BASE, DISPATCH, renderHostScript, renderSyncBootstrap, uploadName } from "../../components/lib/remoteCommand";
import { parseResultLine } from "../../components/lib/result";
import type { SimHost, SshOptions } from "./hosts";
import type { ExecResult } from "./exec";

export { BASE };
const HOST_SCRIPTS = path.join(__dirname, "..", "..", "components", "host");

export interface ReleaseSpec {
  /** NixOS configurations in this release: name -> its simulated behaviour. */
  hosts: Record<string, { units?: string[]; faults?: string[]; config?: string; proxy?: number }>;
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
    // homeServer.proxy.enable with this port: nginx.service is the real blue-green proxy.
    if (h.proxy !== undefined) env.push(`proxy=${h.proxy}`);
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

/**
 * Puts the deploy key's dispatcher where KeyAuthorization's bootstrap install puts it, when no
 * dispatcher is there yet (as root, without SSH: the host tests do not go through Pulumi).
 */
export async function installDispatcher(host: SimHost): Promise<void> {
  const r = await host.run(`test -e ${DISPATCH} || { mkdir -p ${BASE} && cat >${DISPATCH}.tmp && chmod 0755 ${DISPATCH}.tmp && mv ${DISPATCH}.tmp ${DISPATCH}; }`, {
    input: fs.readFileSync(path.join(HOST_SCRIPTS, "dispatch.sh")),
  });
  if (r.code !== 0) throw new Error(`${host.name}: installing the dispatcher failed: ${r.stderr}`);
}

/** Puts `tarball` where ConfigSync's CopyToRemote uploads a release named `hash` (~/<uploadName>), by SFTP. */
export async function uploadRelease(host: SimHost, tarball: Buffer, hash: string, opts: SshOptions = {}): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-upload-"));
  try {
    const local = path.join(dir, "release.tar.gz");
    fs.writeFileSync(local, tarball);
    const r = await host.sftp(`put ${local} ${uploadName(hash)}\n`, opts);
    if (r.code !== 0) throw new Error(`upload to ${host.name} failed: ${r.stderr}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Uploads a release, then sends the program's own sync request; resolves to receive's result. */
export async function syncRelease(host: SimHost, dir: string, keep = 3, opts: SshOptions = {}): Promise<ExecResult & { hash: string }> {
  const { tarball, hash } = await packRelease(dir);
  await installDispatcher(host);
  await uploadRelease(host, tarball, hash, opts);
  const r = await host.ssh(renderSyncBootstrap(hash, keep), opts);
  return { ...r, hash };
}

/** Runs releases/<hash>/.nhs/<script> through the dispatcher exactly as the program renders it. */
export function hostScript(host: SimHost, hash: string, script: string, args: string[], opts: SshOptions = {}): Promise<ExecResult> {
  return host.ssh(renderHostScript(hash, script, args), opts);
}

/** The program's own parser of the one `nhs-result` line (components/lib/result.ts). */
export function parseResult(stdout: string): Record<string, string> {
  return parseResultLine(stdout, { step: "host script", host: "the simulated host" });
}
