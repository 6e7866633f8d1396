// What one server receives: the flake tree filtered to that server, plus generated files and host scripts.
import * as fs from "fs";
import * as path from "path";
import { ArchiveEntry, gzipDeterministic, sha256Hex, tarArchive } from "./tarball";

export interface DeployInfo {
  /** The SSH user Pulumi deploys as; NixOS declares the key for this user. */
  user: string;
  /** The deploy key's authorized_keys line, restrictions included. */
  authorizedKey: string;
}

/** nixos/generated/deploy.json, read by nixos/users.nix. Stable key order so the hash is stable. */
export function renderDeployJson(info: DeployInfo): string {
  return `${JSON.stringify({ user: info.user, authorizedKey: info.authorizedKey }, null, 2)}\n`;
}

/** A tree a release cannot carry: every offending path, so the user fixes them all at once. */
export class ReleaseError extends Error {}

/** What a release carries, so a relative link may point there: flake.nix, flake.lock and nixos/. */
function shipped(resolved: string): boolean {
  return resolved === "flake.nix" || resolved === "flake.lock" || resolved === "nixos" || resolved.startsWith("nixos/");
}

/**
 * Why `rel` (a symlink to `target`, relative to the project root) cannot ship, or undefined when it
 * can: only relative links that stay inside what the release carries, or the host would get a link
 * that dangles or reaches outside the release.
 */
export function symlinkProblem(rel: string, target: string): string | undefined {
  if (target === "" || path.posix.isAbsolute(target)) return `symlink to ${JSON.stringify(target)} is absolute; a release carries only relative links inside flake.nix, flake.lock and nixos/`;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(rel), target));
  if (!shipped(resolved)) return `symlink to ${JSON.stringify(target)} points outside flake.nix, flake.lock and nixos/, which is all a release carries`;
  return undefined;
}

function walk(root: string, rel: string, skip: (rel: string) => boolean, out: ArchiveEntry[], problems: string[]): void {
  const abs = path.join(root, rel);
  for (const name of fs.readdirSync(abs).sort()) {
    const childRel = rel === "" ? name : `${rel}/${name}`;
    if (skip(childRel)) continue;
    const childAbs = path.join(root, childRel);
    const st = fs.lstatSync(childAbs);
    if (st.isSymbolicLink()) {
      const target = fs.readlinkSync(childAbs);
      const problem = symlinkProblem(childRel, target);
      if (problem) problems.push(`${childRel}: ${problem}`);
      else out.push({ path: childRel, linkTarget: target });
    } else if (st.isDirectory()) {
      out.push({ path: childRel });
      walk(root, childRel, skip, out, problems);
    } else if (st.isFile()) {
      out.push({ path: childRel, content: fs.readFileSync(childAbs), executable: (st.mode & 0o111) !== 0 });
    } else {
      problems.push(`${childRel}: not a regular file, directory or symlink (a socket, FIFO or device cannot be shipped)`);
    }
  }
}

function throwProblems(root: string, problems: string[]): void {
  if (problems.length === 0) return;
  throw new ReleaseError(`the release tree under ${root} has ${problems.length} path(s) a release cannot carry:\n  ${problems.join("\n  ")}`);
}

/** Every file, directory and symlink under `root`, sorted, as archive entries. */
export function treeEntries(root: string): ArchiveEntry[] {
  const out: ArchiveEntry[] = [];
  const problems: string[] = [];
  walk(root, "", () => false, out, problems);
  throwProblems(root, problems);
  return out;
}

/**
 * The project's shippable sources, read once for all servers: flake.nix, flake.lock, nixos/ (every
 * host, without a local nixos/generated/) and the host scripts as .nhs/. Throws a ReleaseError naming
 * every path that cannot ship, before any resource is registered.
 */
export interface SourceTree {
  common: ArchiveEntry[];
  /** nixos/hosts/<name>/... entries by host name. */
  hosts: Map<string, ArchiveEntry[]>;
}

export function readSourceTree(root: string, hostScriptsDir = path.join(root, "components", "host")): SourceTree {
  const entries: ArchiveEntry[] = [];
  const problems: string[] = [];
  for (const file of ["flake.nix", "flake.lock"]) {
    const abs = path.join(root, file);
    if (fs.existsSync(abs)) entries.push({ path: file, content: fs.readFileSync(abs) });
    else if (file === "flake.nix") throw new ReleaseError(`${abs} is missing; the release needs the flake`);
  }
  if (!fs.existsSync(path.join(root, "nixos"))) throw new ReleaseError(`${path.join(root, "nixos")} is missing`);
  entries.push({ path: "nixos" });
  walk(root, "nixos", (rel) => rel === "nixos/generated", entries, problems);
  entries.push({ path: ".nhs" });
  if (fs.existsSync(hostScriptsDir)) {
    for (const name of fs.readdirSync(hostScriptsDir).sort()) {
      if (!name.endsWith(".sh")) continue;
      entries.push({ path: `.nhs/${name}`, content: fs.readFileSync(path.join(hostScriptsDir, name)), executable: true });
    }
  }
  throwProblems(root, problems);
  const common: ArchiveEntry[] = [];
  const hosts = new Map<string, ArchiveEntry[]>();
  for (const e of entries) {
    const m = /^nixos\/hosts\/([^/]+)(\/|$)/.exec(e.path);
    if (!m) common.push(e);
    else hosts.set(m[1], [...(hosts.get(m[1]) ?? []), e]);
  }
  return { common, hosts };
}

/**
 * The release tree for one server: the common sources, only nixos/hosts/<server>/ of the hosts, and
 * the generated nixos/generated/deploy.json. Editing one host's file therefore changes only that host.
 */
export function releaseEntries(tree: SourceTree, server: string, deploy: DeployInfo): ArchiveEntry[] {
  return [
    ...tree.common,
    ...(tree.hosts.get(server) ?? []),
    { path: "nixos/generated" },
    { path: "nixos/generated/deploy.json", content: Buffer.from(renderDeployJson(deploy)) },
  ];
}

export interface ReleaseInputs {
  /** Project root holding flake.nix, flake.lock and nixos/. */
  root: string;
  /** The server (= nixosConfigurations attribute) this release is for. */
  server: string;
  deploy: DeployInfo;
  /** Directory of host scripts shipped as .nhs/; missing directory = none. Default <root>/components/host. */
  hostScriptsDir?: string;
}

/** readSourceTree + releaseEntries for one server (tests and one-off callers). */
export function collectRelease(inputs: ReleaseInputs): ArchiveEntry[] {
  return releaseEntries(readSourceTree(inputs.root, inputs.hostScriptsDir), inputs.server, inputs.deploy);
}

export interface Release {
  /** The .tar.gz bytes. */
  tarball: Buffer;
  /** sha256 of the tarball: the release's identity and directory name on the host. */
  hash: string;
}

export function packRelease(entries: readonly ArchiveEntry[]): Release {
  const tarball = gzipDeterministic(tarArchive(entries));
  return { tarball, hash: sha256Hex(tarball) };
}

/** Releases older than this are pruned from the local cache directory (they are rebuilt on demand). */
const CACHE_DAYS = 7;

/**
 * Writes the release to `<dir>/<hash>.tar.gz` (atomically, once) and returns the path: ConfigSync
 * uploads it as a FileAsset, so state holds its path and hash, never its bytes. Prunes stale files.
 */
export function writeReleaseFile(dir: string, release: Release): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${release.hash}.tar.gz`);
  if (fs.existsSync(file)) {
    const now = new Date();
    fs.utimesSync(file, now, now);
  } else {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, release.tarball);
    fs.renameSync(tmp, file);
  }
  const cutoff = Date.now() - CACHE_DAYS * 86_400_000;
  for (const name of fs.readdirSync(dir)) {
    const f = path.join(dir, name);
    try {
      if (fs.statSync(f).mtimeMs < cutoff) fs.rmSync(f, { force: true });
    } catch {
      // Another run pruned it first.
    }
  }
  return file;
}
