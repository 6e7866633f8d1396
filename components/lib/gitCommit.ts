// The git commit a release is packed from, recorded with every deploy (events.jsonl, outputs).
import { execFileSync } from "child_process";

export interface GitCommit {
  /** Full commit id, or "unknown" outside a git work tree (or without git). */
  commit: string;
  /** The tree has uncommitted changes in the given paths. */
  dirty: boolean;
}

/** "<commit>", "<commit>-dirty" or "unknown": the form deploy.sh's --commit takes. */
export function commitLabel(c: GitCommit): string {
  return c.commit === "unknown" ? "unknown" : `${c.commit}${c.dirty ? "-dirty" : ""}`;
}

/** Pure: builds the record from `git rev-parse HEAD` and `git status --porcelain` output (null = git failed). */
export function parseGitCommit(revParse: string | null, porcelain: string | null): GitCommit {
  const commit = (revParse ?? "").trim();
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit)) return { commit: "unknown", dirty: false };
  return { commit, dirty: (porcelain ?? "").split("\n").some((l) => l.trim() !== "") };
}

/**
 * The commit that last changed `paths` under `root` (default: the whole tree) and whether they have
 * uncommitted changes. Scoped to the release's sources, so a commit that touches only other files (a
 * README) leaves the record, and the Rebuild command that carries it, unchanged.
 */
export function gitCommit(root: string, paths: readonly string[] = ["."]): GitCommit {
  const git = (args: string[]) => runGit(root, args);
  const inTree = git(["rev-parse", "--is-inside-work-tree"]);
  if (inTree?.trim() !== "true") return { commit: "unknown", dirty: false };
  return parseGitCommit(git(["log", "-1", "--format=%H", "--", ...paths]), git(["status", "--porcelain", "--untracked-files=all", "--", ...paths]));
}

/** `git -C root ARGS...`'s output, or null if git failed (or is missing). */
export function runGit(root: string, args: string[]): string | null {
  try {
    return execFileSync("git", ["-C", root, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return null;
  }
}

/** The sources collectRelease() packs: what decides a release's commit. */
export const RELEASE_SOURCES = ["flake.nix", "flake.lock", "nixos", "components/host"] as const;
