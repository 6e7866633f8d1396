// Release helpers for tests: build a flake release tree carrying the host scripts,
// pack it deterministically, sync it with the one-line bootstrap (base64 on stdin)
// and call the host scripts the way the Pulumi program does.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as crypto from "node:crypto";
import { must } from "./exec";
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

/** A deterministic .tar.gz of the release (sorted, fixed mtime and owner) + its sha256. */
export async function packRelease(dir: string): Promise<{ tarball: Buffer; hash: string }> {
  const entries = fs.readdirSync(dir).sort();
  const tar = await must("sh", [
    "-c",
    'cd "$1" && shift && tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=u+rw,go+r -cf - -- "$@" | gzip -n | base64 -w0',
    "pack", dir, ...entries,
  ]);
  const tarball = Buffer.from(tar, "base64");
  return { tarball, hash: crypto.createHash("sha256").update(tarball).digest("hex") };
}

/** The one-line bootstrap documented at the top of components/host/receive.sh. */
export function bootstrapLine(hash: string, keep: number): string {
  return (
    'set -eu; umask 022; B=/var/lib/nixos-home-server; mkdir -p "$B"; t=$(mktemp -d "$B/incoming.XXXXXX"); ' +
    'base64 -d >"$t/r.tgz"; tar -xzf "$t/r.tgz" -C "$t" .nhs/receive.sh; ' +
    `exec sh "$t/.nhs/receive.sh" "$t/r.tgz" ${hash} ${keep}`
  );
}

/** Single-quotes one shell word. */
export function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Sends a release over SSH (stdin = base64 of the tarball); resolves to receive's result. */
export async function syncRelease(host: SimHost, dir: string, keep = 3, opts: SshOptions = {}): Promise<ExecResult & { hash: string }> {
  const { tarball, hash } = await packRelease(dir);
  const r = await host.ssh(`sudo -n sh -c ${q(bootstrapLine(hash, keep))}`, { ...opts, input: tarball.toString("base64") });
  return { ...r, hash };
}

/** Runs releases/<hash>/.nhs/<script> with quoted arguments, as the program renders it. */
export function hostScript(host: SimHost, hash: string, script: string, args: string[], opts: SshOptions = {}): Promise<ExecResult> {
  const cmd = ["sudo", "-n", "sh", `${BASE}/releases/${hash}/.nhs/${script}`, ...args.map(q)].join(" ");
  return host.ssh(cmd, opts);
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
