// Every command line sent to a server, rendered by pure functions with every argument single-quoted.
import { shellQuote } from "./shell";

/** Root of everything nixos-home-server keeps on a host (see CONTRACT.md "Host layout"). */
export const BASE = "/var/lib/nixos-home-server";

/**
 * The deploy key's forced command (components/host/dispatch.sh), root-owned: KeyAuthorization puts it
 * there with the bootstrap credentials, and the NixOS module (nixos/users.nix) owns it from then on.
 */
export const DISPATCH = `${BASE}/dispatch`;

export function releaseDir(hash: string): string {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`release hash must be 64 lowercase hex digits, got ${JSON.stringify(hash)}`);
  return `${BASE}/releases/${hash}`;
}

/** The dispatcher's verbs: the only things the deploy key can ask a host to do. */
export type Verb = "receive" | "deploy" | "verify" | "rollback" | "status" | "generations" | "probe" | "secrets" | "authorize" | "switch-upstream";

/**
 * `/var/lib/nixos-home-server/dispatch VERB 'arg' ...`. Through the deploy key, sshd runs the forced
 * command instead and hands it this line as SSH_ORIGINAL_COMMAND; from a login with a shell (an
 * admin) the same line runs the dispatcher directly. Either way the dispatcher checks it.
 */
export function renderVerb(verb: Verb, args: readonly string[] = []): string {
  return [DISPATCH, verb, ...args.map(shellQuote)].join(" ");
}

/** A host script of the release as its verb: deploy/verify name the release, the others use current. */
export function renderHostScript(hash: string, script: string, args: readonly string[]): string {
  const verb = script.replace(/\.sh$/, "") as Verb;
  if (verb === "deploy" || verb === "verify") {
    releaseDir(hash);
    return renderVerb(verb, [hash, ...args]);
  }
  return renderVerb(verb, args);
}

/**
 * Where ConfigSync uploads a release (CopyToRemote, SFTP as the SSH user): a file in the user's home,
 * the SFTP server's default directory (relative SFTP paths resolve there), named by the hash. The
 * dispatcher's receive verb reads it from there (components/host/dispatch.sh).
 */
export function uploadName(hash: string): string {
  releaseDir(hash);
  return `.nhs-release-${hash}.tar.gz`;
}

/**
 * The sync: the dispatcher's root half copies ~/<uploadName> of the SSH user into a temp dir under
 * $BASE (root-owned, so the file checked is the file unpacked), takes .nhs/receive.sh and the lib.sh
 * it sources from the tarball itself (so the receiver always matches the release) and runs
 * `receive.sh <tarball> <hash> <keep-releases>`. On success it removes older uploads and keeps this one,
 * so a rerun after an interrupted `up` still finds it.
 */
export function renderSyncBootstrap(hash: string, keepReleases: number): string {
  releaseDir(hash);
  return renderVerb("receive", [hash, String(keepReleases)]);
}

export interface DeployArgs {
  name: string;
  hash: string;
  mode: string;
  confirmTimeoutSeconds: number;
  activationTimeoutSeconds: number;
  keepGenerations: number;
  minFreeMb: number;
  /** The git commit the release was packed from (lib/gitCommit.ts commitLabel), for the host's events. */
  commit?: string;
}

export function deployArguments(a: DeployArgs): string[] {
  return [
    "--name", a.name,
    "--release", releaseDir(a.hash),
    "--mode", a.mode,
    "--confirm-timeout", String(a.confirmTimeoutSeconds),
    "--activation-timeout", String(a.activationTimeoutSeconds),
    "--keep-generations", String(a.keepGenerations),
    "--min-free-mb", String(a.minFreeMb),
    ...(a.commit !== undefined ? ["--commit", a.commit] : []),
  ];
}

export function renderDeploy(a: DeployArgs): string {
  return renderHostScript(a.hash, "deploy.sh", deployArguments(a));
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

export function renderVerify(a: VerifyArgs): string {
  return renderHostScript(a.hash, "verify.sh", verifyArguments(a));
}


/**
 * The bootstrap install, over the bootstrap credentials (once per host and stack). The dispatcher was
 * uploaded (CopyToRemote, so state holds its path and hash, not its text) to ~/dispatchUpload(marker): it goes
 * to DISPATCH, root-owned, through `sudo -n`, unless a dispatcher is there already (the NixOS module
 * keeps it current); the upload is removed either way. Then `lines` replace every line ending in `marker` in the SSH user's
 * own ~/.ssh/authorized_keys (other stacks' keys and the admins' stay), through a temp file and mv,
 * only when it changed (atomic, like colmena's key uploader). Every argument is public.
 */
/**
 * Where KeyAuthorization uploads the dispatcher for the bootstrap install, in the bootstrap user's home:
 * one name per stack and server, so two stacks installing at once never read a file the other rewrites.
 */
export function dispatchUpload(marker: string): string {
  return `.nhs-dispatch-${marker.replace(/[^A-Za-z0-9_.-]/g, "-")}.sh`;
}

export function renderInstallKey(user: string, lines: readonly string[], marker: string): string {
  if (!/^[A-Za-z0-9@_./-]+$/.test(marker)) throw new Error(`key marker ${JSON.stringify(marker)} must be a plain word`);
  for (const line of lines) {
    if (/[\r\n]/.test(line)) throw new Error("authorized_keys line must be a single line");
    if (!line.endsWith(` ${marker}`)) throw new Error(`authorized_keys line must end with the marker ${marker}`);
  }
  const dispatcher = [
    "set -eu",
    'mkdir -p "$(dirname "$1")"',
    't=$(mktemp "$1.XXXXXX")',
    'trap "rm -f \\"\\$t\\"" EXIT',
    'cat "$2" >"$t"',
    'chmod 0755 "$t"',
    'mv -f "$t" "$1"',
  ].join("; ");
  const script = [
    "set -eu",
    // Only where none is yet: from then on the NixOS module installs it on every activation.
    `u="$HOME/${dispatchUpload(marker)}"`,
    `if [ ! -e ${DISPATCH} ]; then ${privilegePrefix(user)}sh -c ${shellQuote(dispatcher)} nhs-install-dispatcher ${DISPATCH} "$u"; fi`,
    'rm -f "$u"',
    "umask 077",
    'd="$HOME/.ssh"',
    'f="$d/authorized_keys"',
    'mkdir -p "$d"',
    '[ -e "$f" ] || : >"$f"',
    // Two stacks may install at the same moment: one at a time, or one would drop the other's line.
    // The dispatcher's keys_lock (components/host/dispatch.sh), which its root half (protect) takes
    // too; like it, a lock older than a minute was left by a killed session and goes.
    'n=0; until mkdir "$d/.nhs-lock" 2>/dev/null; do a=$(($(date +%s) - $(stat -c %Y "$d/.nhs-lock" 2>/dev/null || date +%s))); if [ "$a" -ge 60 ] && rmdir "$d/.nhs-lock" 2>/dev/null; then continue; fi; n=$((n + 1)); if [ "$n" -ge 300 ]; then echo "$d/.nhs-lock: another key install holds it (remove it if none is running)" >&2; exit 1; fi; sleep 0.1; done',
    't=$(mktemp "$d/.authorized_keys.XXXXXX")',
    'trap "rm -f \\"\\$t\\"; rmdir \\"\\$d/.nhs-lock\\"" EXIT',
    'm=$1',
    "shift",
    // Exact match of the last field: a marker is a literal, never a pattern. Lines of the marker
    // before stacks had their own (nhs-deploy@<server>, no forced command) go too.
    'l="nhs-deploy@${m##*/}"',
    'awk -v m="$m" -v l="$l" "\\$NF != m && \\$NF != l" "$f" > "$t"',
    'printf "%s\\n" "$@" >> "$t"',
    'if cmp -s "$t" "$f"; then echo "nhs-result status=ok key=present"; else mv "$t" "$f"; echo "nhs-result status=ok key=installed"; fi',
  ].join("; ");
  return `sh -c ${shellQuote(script)} nhs-install-key ${[marker, ...lines].map(shellQuote).join(" ")}`;
}

/** `sudo -n ` unless the SSH user is root; -n makes a missing sudo rule fail instead of prompting. */
export function privilegePrefix(user: string): string {
  return user === "root" ? "" : "sudo -n ";
}

/** Over the current key, through the dispatcher: the host swaps this stack's line for the new key. */
export function renderAuthorize(publicKey: string, from: readonly string[]): string {
  const blob = publicKey.trim().split(/\s+/)[1] ?? "";
  return renderVerb("authorize", from.length > 0 ? [blob, from.join(",")] : [blob]);
}
