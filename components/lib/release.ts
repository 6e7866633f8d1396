// What one server receives: the flake tree filtered to that server, plus generated files and host scripts.
import * as fs from "fs";
import * as path from "path";
import { ArchiveEntry, gzipStored, sha256Hex, ustar } from "./tarball";

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

function walk(root: string, rel: string, skip: (rel: string) => boolean, out: ArchiveEntry[]): void {
  const abs = path.join(root, rel);
  for (const name of fs.readdirSync(abs).sort()) {
    const childRel = rel === "" ? name : `${rel}/${name}`;
    if (skip(childRel)) continue;
    const st = fs.lstatSync(path.join(root, childRel));
    if (st.isSymbolicLink()) {
      // A symlink could point outside the tree or differ between machines; refuse rather than guess.
      throw new Error(`${childRel} is a symlink; the release only carries regular files and directories`);
    } else if (st.isDirectory()) {
      out.push({ path: childRel });
      walk(root, childRel, skip, out);
    } else if (st.isFile()) {
      out.push({ path: childRel, content: fs.readFileSync(path.join(root, childRel)), executable: (st.mode & 0o111) !== 0 });
    }
  }
}

/** Every file and directory under `root`, sorted, as archive entries. */
export function treeEntries(root: string): ArchiveEntry[] {
  const out: ArchiveEntry[] = [];
  walk(root, "", () => false, out);
  return out;
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

/**
 * The release tree for one server: flake.nix, flake.lock (when present), nixos/ without the other
 * servers' nixos/hosts/<name>/ and without any local nixos/generated/, then the generated
 * nixos/generated/deploy.json and .nhs/*.sh. Editing one host's file therefore changes only that host.
 */
export function collectRelease(inputs: ReleaseInputs): ArchiveEntry[] {
  const { root, server } = inputs;
  const entries: ArchiveEntry[] = [];
  for (const file of ["flake.nix", "flake.lock"]) {
    const abs = path.join(root, file);
    if (fs.existsSync(abs)) entries.push({ path: file, content: fs.readFileSync(abs) });
    else if (file === "flake.nix") throw new Error(`${abs} is missing; the release needs the flake`);
  }
  if (!fs.existsSync(path.join(root, "nixos"))) throw new Error(`${path.join(root, "nixos")} is missing`);
  entries.push({ path: "nixos" });
  walk(
    root,
    "nixos",
    (rel) => rel === "nixos/generated" || (/^nixos\/hosts\/[^/]+$/.test(rel) && rel !== `nixos/hosts/${server}`),
    entries,
  );
  entries.push({ path: "nixos/generated" });
  entries.push({ path: "nixos/generated/deploy.json", content: Buffer.from(renderDeployJson(inputs.deploy)) });

  const hostDir = inputs.hostScriptsDir ?? path.join(root, "components", "host");
  entries.push({ path: ".nhs" });
  if (fs.existsSync(hostDir)) {
    for (const name of fs.readdirSync(hostDir).sort()) {
      if (!name.endsWith(".sh")) continue;
      entries.push({ path: `.nhs/${name}`, content: fs.readFileSync(path.join(hostDir, name)), executable: true });
    }
  }
  return entries;
}

export interface Release {
  /** The .tar.gz bytes. */
  tarball: Buffer;
  /** sha256 of the tarball: the release's identity and directory name on the host. */
  hash: string;
}

export function packRelease(entries: readonly ArchiveEntry[]): Release {
  const tarball = gzipStored(ustar(entries));
  return { tarball, hash: sha256Hex(tarball) };
}
