// First use of a committed stack: `npm run pulumi -- preview -s staging` on a fresh clone has no
// stack in the backend yet. The wrapper creates it, and keeps the committed Pulumi.<stack>.yaml
// as written, adding only the encryptionsalt line `stack init` generates (stack init and
// `config set` rewrite the whole file, dropping anything they do not know).

/** Commands that read a stack's config and would fail with "no stack named ... found". */
const NEEDS_STACK = new Set(["preview", "up", "update", "refresh", "config", "import", "watch"]);

/** The stack named with -s/--stack/--stack=NAME, when the command is one that needs the stack. */
export function stackToCreate(args: readonly string[]): string | undefined {
  const command = args.find((a) => !a.startsWith("-"));
  if (!command || !NEEDS_STACK.has(command)) return undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if ((a === "-s" || a === "--stack") && i + 1 < args.length) return args[i + 1];
    if (a.startsWith("--stack=")) return a.slice("--stack=".length);
  }
  return undefined;
}

/**
 * The committed file, plus the encryptionsalt line `stack init` wrote into its rewrite of it.
 * Comments, order and every other line of the committed file are kept.
 */
export function keepCommittedStackFile(committed: string, rewritten: string): string {
  if (/^encryptionsalt:/m.test(committed)) return committed;
  const salt = rewritten.match(/^encryptionsalt: .*$/m)?.[0];
  if (!salt) return committed;
  return `${committed.replace(/\n*$/, "\n")}${salt}\n`;
}
