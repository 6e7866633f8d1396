// The CI workflow's shape: every job that runs a project script installs first, production
// needs staging and sits behind an environment, and each job that touches a stack owns that
// stack's concurrency group. actionlint (test/lint.test.ts) checks the syntax.
import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { externalUrl, httpChecks, serversFromConfigJson } from "../../scripts/ci/check-http.mjs";

const root = path.resolve(__dirname, "..", "..");
const read = (p: string) => load(fs.readFileSync(path.join(root, p), "utf8")) as any;

interface Step {
  uses?: string;
  run?: string;
}
const workflow = read(".github/workflows/deploy.yml");
const jobs = workflow.jobs as Record<string, { steps: Step[]; needs?: string | string[]; environment?: unknown; concurrency?: { group?: string }; strategy?: any }>;

/** The local setup action installs: it runs scripts/setup.sh, which runs `npm ci`. */
function installs(step: Step): boolean {
  if (step.run && /(^|\s|\/)(scripts\/setup\.sh|npm ci)\b/.test(step.run)) return true;
  if (step.uses?.startsWith("./")) {
    const action = read(path.join(step.uses, "action.yml"));
    return (action.runs.steps as Step[]).some(installs);
  }
  return false;
}
const runsProjectScript = (s: Step) => !!s.run && /scripts\/ci\/|npm run|\.ci\/run/.test(s.run);

describe("deploy.yml", () => {
  it("setup.sh itself runs npm ci", () => {
    expect(fs.readFileSync(path.join(root, "scripts/setup.sh"), "utf8")).toMatch(/^npm ci\b/m);
  });

  it.each(Object.keys(jobs))("job %s installs before its first project script", (name) => {
    const steps = jobs[name].steps;
    const first = steps.findIndex(runsProjectScript);
    if (first === -1) return;
    const install = steps.findIndex(installs);
    expect(install, `${name} has no install step`).toBeGreaterThanOrEqual(0);
    expect(install).toBeLessThan(first);
  });

  it("every job runs at least one project script (no dead jobs)", () => {
    for (const [name, j] of Object.entries(jobs)) expect(j.steps.some(runsProjectScript), name).toBe(true);
  });

  it("production needs staging and has an environment", () => {
    const p = jobs.production;
    expect([p.needs].flat()).toContain("staging");
    expect(p.environment).toBe("production");
  });

  it("every job that touches a stack has that stack's concurrency group, never cancelled", () => {
    for (const [name, j] of Object.entries(jobs)) {
      const stacks = j.steps
        .map((s) => s.run?.match(/scripts\/ci\/\S+\.sh "?(\$\{\{[^}]*\}\}|[^"\s]+)/)?.[1])
        .filter((s): s is string => !!s);
      if (stacks.length === 0) {
        expect(j.concurrency?.group, `${name}: a concurrency group`).toBeTruthy();
        continue;
      }
      for (const stack of new Set(stacks)) {
        const group = j.concurrency?.group ?? "";
        if (stack === "${{ matrix.stack }}") {
          expect(group, name).toContain("${{ matrix.stack }}");
          expect(j.strategy.matrix.stack.length).toBeGreaterThan(0);
        } else expect(group, name).toBe(`pulumi-${stack}`);
        expect((j.concurrency as any)["cancel-in-progress"], `${name}: an up must never be cancelled halfway`).toBe(false);
      }
    }
  });

  it("the staging job checks from outside the hosts after deploying", () => {
    const runs = jobs.staging.steps.map((s) => s.run ?? "");
    expect(runs.findIndex((r) => r.includes("scripts/ci/deploy.sh staging"))).toBeLessThan(runs.findIndex((r) => r.includes("scripts/ci/check.sh staging")));
    expect(fs.readFileSync(path.join(root, "scripts/ci/check.sh"), "utf8")).toMatch(/check-http\.mjs/);
  });

  it("reads no secret that nothing uses", () => {
    expect(fs.readFileSync(path.join(root, ".github/workflows/deploy.yml"), "utf8")).not.toMatch(/NHS_BOOTSTRAP_KEY/);
  });
});

describe("check-http.mjs", () => {
  it("sends loopback checks to the server's address and keeps the rest", () => {
    expect(externalUrl("http://localhost/", "10.0.0.5")).toBe("http://10.0.0.5/");
    expect(externalUrl("http://127.0.0.1:8080/health?x=1", "srv.home.arpa")).toBe("http://srv.home.arpa:8080/health?x=1");
    expect(externalUrl("http://[::1]/", "fd00::5")).toBe("http://[fd00::5]/");
    expect(externalUrl("https://example.org/", "10.0.0.5")).toBe("https://example.org/");
  });

  it("lists every server's checks from `pulumi config get --json`", () => {
    const servers = [
      { name: "a", host: "10.0.0.1", health: { http: [{ url: "http://localhost/" }, { url: "http://localhost/x", status: 204 }] } },
      { name: "b", host: "10.0.0.2" },
    ];
    expect(httpChecks(serversFromConfigJson(JSON.stringify({ value: JSON.stringify(servers), objectValue: servers, secret: false })))).toEqual([
      { server: "a", url: "http://10.0.0.1/", status: 200 },
      { server: "a", url: "http://10.0.0.1/x", status: 204 },
    ]);
    expect(() => serversFromConfigJson('{"value":"3"}')).toThrow(/not a list/);
  });
});
