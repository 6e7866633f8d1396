// Parsing the host scripts' single machine-readable stdout line: `nhs-result key=value ... [report=free text]`.

export type ResultFields = Record<string, string>;

/**
 * Finds the one `nhs-result` line in `stdout` and returns its fields. Strict, like nixos-anywhere's
 * facts: no line, two lines, or a missing required key is an error naming the step, the key and the host.
 */
export function parseResultLine(stdout: string, context: { step: string; host: string; required?: readonly string[] }): ResultFields {
  const lines = stdout.split(/\r?\n/).filter((l) => l.startsWith("nhs-result ") || l === "nhs-result");
  const where = `${context.step} on ${context.host}`;
  if (lines.length === 0) throw new Error(`${where} printed no "nhs-result" line; is the host script from this release?`);
  if (lines.length > 1) throw new Error(`${where} printed ${lines.length} "nhs-result" lines; expected exactly one`);
  const fields: ResultFields = {};
  let rest = lines[0].slice("nhs-result".length).trimStart();
  while (rest.length > 0) {
    if (rest.startsWith("report=")) {
      // Free text: the rest of the line.
      fields.report = rest.slice("report=".length);
      break;
    }
    const space = rest.indexOf(" ");
    const token = space === -1 ? rest : rest.slice(0, space);
    rest = space === -1 ? "" : rest.slice(space + 1).trimStart();
    const eq = token.indexOf("=");
    if (eq <= 0) throw new Error(`${where}: malformed field ${JSON.stringify(token)} in result line`);
    fields[token.slice(0, eq)] = token.slice(eq + 1);
  }
  for (const key of context.required ?? []) {
    if (!(key in fields)) throw new Error(`${where}: result line has no "${key}" key`);
  }
  return fields;
}

export interface DeployResult {
  status: string;
  previousGeneration: number;
  generation: number;
  storePath: string;
  durationSeconds: number;
  /** When the host finished the switch (the host's clock), if the script reported it. */
  deployedAt: string | undefined;
  watchdog: string;
}

function integer(fields: ResultFields, key: string, where: string): number {
  const v = fields[key];
  if (!/^\d+$/.test(v)) throw new Error(`${where}: "${key}" is not a whole number: ${JSON.stringify(v)}`);
  return Number(v);
}

export function parseDeployResult(stdout: string, host: string): DeployResult {
  const where = `deploy on ${host}`;
  const f = parseResultLine(stdout, { step: "deploy", host, required: ["status", "previous", "generation", "store", "duration"] });
  return {
    status: f.status,
    previousGeneration: integer(f, "previous", where),
    generation: integer(f, "generation", where),
    storePath: f.store,
    durationSeconds: integer(f, "duration", where),
    deployedAt: f.at,
    watchdog: f.watchdog ?? "none",
  };
}

export interface VerifyResult {
  status: string;
  generation: number;
  checks: number;
  report: string;
}

export function parseVerifyResult(stdout: string, host: string): VerifyResult {
  const f = parseResultLine(stdout, { step: "verify", host, required: ["status", "generation", "checks"] });
  return {
    status: f.status,
    generation: integer(f, "generation", `verify on ${host}`),
    checks: integer(f, "checks", `verify on ${host}`),
    report: f.report ?? "",
  };
}
