// Staged promotion: each run records the git commit it deploys and whether the tree had
// uncommitted changes; a stack with `promotion.from` deploys only a clean commit that the other
// stack (staging) deployed and verified on every server.
import { parseGitCommit } from "./gitCommit";

/** The release's source: HEAD's commit (null outside a git checkout) and uncommitted changes. */
export interface Source {
  commit: string | null;
  dirty: boolean;
}

/**
 * `git rev-parse HEAD` and `git status --porcelain` outputs (null when git failed). The commit is
 * read as parseGitCommit reads it; a status git could not give counts as dirty, since promotion
 * lets through only what it knows is clean.
 */
export function sourceOf(head: string | null, porcelain: string | null): Source {
  const { commit } = parseGitCommit(head, porcelain);
  return { commit: commit === "unknown" ? null : commit, dirty: porcelain === null || porcelain.trim() !== "" };
}

/** What the `release` output of the stack promoted from says. */
export interface VerifiedRelease {
  commit?: string | null;
  dirty?: boolean;
  verified?: boolean;
}

/** Why `source` may not be deployed here; empty = it may. */
export function promotionProblems(source: Source, from: string, upstream: VerifiedRelease | undefined): string[] {
  const problems: string[] = [];
  if (source.commit === null) problems.push("this directory is not a git checkout with a commit, so there is no commit to promote");
  if (source.dirty) problems.push("the working tree has uncommitted changes (`git status --porcelain` is not empty); commit or stash them");
  if (!upstream || upstream.commit === undefined) {
    problems.push(`stack "${from}" has no release output yet; deploy it first`);
  } else if (source.commit !== null) {
    if (upstream.commit !== source.commit) {
      problems.push(`commit ${source.commit.slice(0, 12)} is not the one stack "${from}" last deployed (${upstream.commit ? upstream.commit.slice(0, 12) : "no commit"}); deploy it to ${from} first`);
    } else if (upstream.dirty) {
      problems.push(`stack "${from}" deployed commit ${source.commit.slice(0, 12)} from a tree with uncommitted changes; deploy it to ${from} again from a clean tree`);
    } else if (!upstream.verified) {
      problems.push(`stack "${from}" deployed commit ${source.commit.slice(0, 12)} but not every server passed Verify; fix ${from} first`);
    }
  }
  return problems;
}

export function refusalMessage(from: string, problems: readonly string[]): string {
  return (
    `promotion from stack "${from}" refused; no host was touched:\n  - ${problems.join("\n  - ")}\n` +
    `In an emergency, deploy anyway with \`npm run pulumi -- config set --path promotion.override "<reason>"\`; the reason is recorded in the stack's \`promotion\` output.`
  );
}
