// Fleet scheduling: at most `parallelism` servers in flight, and nothing passes between servers
// but a free lane. A lane is freed by any outcome (verified, failed, skipped), so one server's
// failure never keeps another from being attempted. Ordering by dependsOn would not do: the
// engine skips every dependent of a failed resource, even with --continue-on-error.

/**
 * Runs `start` for every item, at most `parallelism` at once, in order: item i + parallelism
 * starts when some earlier item settled. A rejection is recorded and its lane moves on.
 */
export async function inLanes<T, R>(
  items: readonly T[],
  parallelism: number,
  start: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  if (!Number.isInteger(parallelism) || parallelism < 1) throw new Error(`parallelism must be a positive integer, got ${parallelism}`);
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: "fulfilled", value: await start(items[i], i) };
      } catch (reason) {
        results[i] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, items.length) }, lane));
  return results;
}

/** One server's outcome at the end of a run. */
export type ServerOutcome = { name: string; verified: true; report: string } | { name: string; verified: false };

/** The run's last lines: every server and what happened to it. */
export function outcomeSummary(outcomes: readonly ServerOutcome[]): string {
  const failed = outcomes.filter((o) => !o.verified).length;
  const width = Math.max(...outcomes.map((o) => o.name.length));
  const lines = outcomes.map((o) =>
    `  ${o.name.padEnd(width)}  ${o.verified ? `verified: ${o.report}` : "NOT verified: failed or not started (its errors are listed above)"}`,
  );
  const head = failed === 0 ? `fleet: all ${outcomes.length} servers verified` : `fleet: ${failed} of ${outcomes.length} servers not verified`;
  return [head, ...lines].join("\n");
}
