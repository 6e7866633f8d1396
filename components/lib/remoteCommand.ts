// Every command line sent to a server, rendered by pure functions with every argument single-quoted.
import { shellQuote } from "./shell";

/** Root of everything nixos-home-server keeps on a host (see CONTRACT.md "Host layout"). */
export const BASE = "/var/lib/nixos-home-server";

/** `sudo -n ` unless the SSH user is root; -n makes a missing sudo rule fail instead of prompting. */
export function privilegePrefix(user: string): string {
  return user === "root" ? "" : "sudo -n ";
}

export function releaseDir(hash: string): string {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`release hash must be 64 lowercase hex digits, got ${JSON.stringify(hash)}`);
  return `${BASE}/releases/${hash}`;
}

/** `[sudo -n ]sh '<script>' 'arg' 'arg' ...` for a script shipped in the release's .nhs/. */
export function renderHostScript(user: string, hash: string, script: string, args: readonly string[]): string {
  const words = [`${releaseDir(hash)}/.nhs/${script}`, ...args].map(shellQuote);
  return `${privilegePrefix(user)}sh ${words.join(" ")}`;
}

/**
 * Where ConfigSync uploads a release (CopyToRemote, SFTP as the SSH user): a file in the user's home,
 * the SFTP server's default directory (relative SFTP paths resolve there), named by the hash.
 */
export function uploadName(hash: string): string {
  releaseDir(hash);
  return `.nhs-release-${hash}.tar.gz`;
}

/**
 * The sync bootstrap, the only inline shell. It copies the uploaded ~/<uploadName> into a temp dir
 * under $BASE (root-owned, so the file checked is the file unpacked), takes .nhs/receive.sh from the
 * tarball itself (so the receiver always matches the release) and runs
 * `receive.sh <tarball> <hash> <keep-releases>`. On success it removes older uploads and keeps this
 * one, so a rerun after an interrupted `up` still finds it. `"$HOME"` is expanded by the SSH user's
 * shell before sudo, so it is the home the upload went to.
 */
export function renderSyncBootstrap(user: string, hash: string, keepReleases: number): string {
  const script = [
    "set -eu",
    `b=${BASE}`,
    'u="$3/.nhs-release-$1.tar.gz"',
    'mkdir -p "$b/tmp"',
    't=$(mktemp -d "$b/tmp/sync.XXXXXX")',
    'trap "rm -rf \\"\\$t\\"" EXIT',
    'cp "$u" "$t/release.tar.gz"',
    'tar -xzf "$t/release.tar.gz" -C "$t" .nhs/receive.sh',
    'sh "$t/.nhs/receive.sh" "$t/release.tar.gz" "$1" "$2"',
    'for f in "$3"/.nhs-release-*.tar.gz; do [ "$f" = "$u" ] || rm -f "$f"; done',
  ].join("; ");
  uploadName(hash);
  return `${privilegePrefix(user)}sh -c ${shellQuote(script)} nhs-sync ${shellQuote(hash)} ${shellQuote(String(keepReleases))} "$HOME"`;
}

export interface DeployArgs {
  name: string;
  hash: string;
  mode: string;
  confirmTimeoutSeconds: number;
  keepGenerations: number;
  minFreeMb: number;
}

export function deployArguments(a: DeployArgs): string[] {
  return [
    "--name", a.name,
    "--release", releaseDir(a.hash),
    "--mode", a.mode,
    "--confirm-timeout", String(a.confirmTimeoutSeconds),
    "--keep-generations", String(a.keepGenerations),
    "--min-free-mb", String(a.minFreeMb),
  ];
}

export function renderDeploy(user: string, a: DeployArgs): string {
  return renderHostScript(user, a.hash, "deploy.sh", deployArguments(a));
}

export interface VerifyArgs {
  name: string;
  hash: string;
  retries: number;
  intervalSeconds: number;
  timeoutSeconds: number;
  units: readonly string[];
  http: readonly { url: string; status: number }[];
  commands: readonly string[];
  journal: "fail" | "ignore";
  minFreeMb: number;
  /** The generation Rebuild produced: verify fails if the host no longer runs it (rolled back). */
  generation?: number;
}

export function verifyArguments(a: VerifyArgs): string[] {
  const args = [
    "--name", a.name,
    "--retries", String(a.retries),
    "--interval", String(a.intervalSeconds),
    "--timeout", String(a.timeoutSeconds),
  ];
  for (const u of a.units) args.push("--unit", u);
  for (const h of a.http) args.push("--http", `${h.url}=${h.status}`);
  for (const c of a.commands) args.push("--command", c);
  args.push("--journal", a.journal, "--min-free-mb", String(a.minFreeMb));
  if (a.generation !== undefined) args.push("--generation", String(a.generation));
  return args;
}

export function renderVerify(user: string, a: VerifyArgs): string {
  return renderHostScript(user, a.hash, "verify.sh", verifyArguments(a));
}

/**
 * Installs `line` into the SSH user's own ~/.ssh/authorized_keys: drops older lines ending in the
 * same `marker` comment (a rotated deploy key), appends `line`, and replaces the file with mv only when
 * it changed (atomic, like colmena's key uploader). Runs as the SSH user, so no sudo. Both arguments
 * are public.
 */
export function renderInstallKey(line: string, marker: string): string {
  if (/[\r\n]/.test(line)) throw new Error("authorized_keys line must be a single line");
  if (!/^[A-Za-z0-9@_.-]+$/.test(marker) || !line.endsWith(` ${marker}`)) {
    throw new Error(`key marker ${JSON.stringify(marker)} must be a plain word ending the key line`);
  }
  const script = [
    "set -eu",
    "umask 077",
    'd="$HOME/.ssh"',
    'f="$d/authorized_keys"',
    'mkdir -p "$d"',
    'touch "$f"',
    't=$(mktemp "$d/.authorized_keys.XXXXXX")',
    'trap "rm -f \\"\\$t\\"" EXIT',
    // grep exits 1 when every line is dropped; only 2 is an error.
    'grep -v -e " $2\\$" "$f" > "$t" || [ "$?" -eq 1 ]',
    // $(...) drops a trailing newline, so a non-empty result means the last line is unterminated.
    'if [ -n "$(tail -c 1 "$t")" ]; then echo >> "$t"; fi',
    'printf "%s\\n" "$1" >> "$t"',
    'if cmp -s "$t" "$f"; then echo "nhs-result status=ok key=present"; else mv "$t" "$f"; echo "nhs-result status=ok key=installed"; fi',
  ].join("; ");
  return `sh -c ${shellQuote(script)} nhs-install-key ${shellQuote(line)} ${shellQuote(marker)}`;
}

/** Run over the deploy key: proves passwordless login works and that `sudo -n` is allowed. */
export function renderLoginTest(user: string): string {
  const sudoCheck = user === "root" ? "" : "sudo -n true && ";
  return `${sudoCheck}echo 'nhs-result status=ok login=deploy-key'`;
}
