// Blue-green through the real engine, real SSH and a real nginx in the proxy host: requests go
// through the proxy every 25 ms during a deploy with its switch and during a switch back, and none
// fails; a broken idle colour never receives one, and traffic stays where it was.
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost, startHosts } from "../harness/hosts";
import { E2EProject, FAST_HEALTH, changed } from "../harness/project";

let hosts: SimHost[];
let proxy: SimHost, blue: SimHost, green: SimHost;
let project: E2EProject;

interface Answer { at: number; status: number; colour: string; body: string; error?: string }

/** One request through the proxy on a fresh connection (a client that reuses one sees nginx close idle keep-alives on reload). */
function ask(): Promise<Answer> {
  const at = Date.now();
  return new Promise((resolve) => {
    const req = http.get({ host: proxy.address, port: 80, path: "/", agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ at, status: res.statusCode ?? 0, colour: String(res.headers["x-nhs-colour"] ?? ""), body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ at, status: 0, colour: "", body: "", error: e.message }));
  });
}

/** Sends a request every 25 ms (each on its own) until `during` settles; returns every answer. */
async function underLoad<T>(during: () => Promise<T>): Promise<{ result: T; answers: Answer[] }> {
  const answers: Promise<Answer>[] = [];
  let done = false;
  const loop = (async () => {
    while (!done) {
      answers.push(ask());
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  try {
    const result = await during();
    return { result, answers: await Promise.all(answers) };
  } finally {
    done = true;
    await loop;
  }
}

/** The colours in the order they answered, with repeats collapsed: e.g. ["blue", "green"]. */
function sequence(answers: Answer[]): string[] {
  return answers.map((a) => a.colour).filter((c, i, all) => i === 0 || c !== all[i - 1]);
}

/**
 * A switch from `from` to `to`: only `from` answers before the first `to`, only `to` after the
 * switch command finished; in between nginx's old workers finish while the new ones answer
 * (a graceful reload), so both colours may answer for a moment. Returns that window in ms.
 */
function expectSwitch(answers: Answer[], from: string, to: string, switchDone: number): number {
  const firstNew = answers.findIndex((a) => a.colour === to);
  expect(firstNew).toBeGreaterThan(0);
  expect(new Set(answers.slice(0, firstNew).map((a) => a.colour))).toEqual(new Set([from]));
  expect(new Set(answers.filter((a) => a.at > switchDone).map((a) => a.colour))).toEqual(new Set([to]));
  expect(new Set(answers.map((a) => a.colour))).toEqual(new Set([from, to]));
  const lastOld = Math.max(...answers.filter((a) => a.colour === from).map((a) => a.at));
  return Math.max(0, lastOld - answers[firstNew].at);
}

/** `up` while requests flow; also when the switch command's outputs arrived (it has checked the proxy). */
async function upUnderLoad() {
  let switchDone = Infinity;
  // Type and name of every resource the run changed (not same, read or refresh).
  const steps = new Set<string>();
  const { result, answers } = await underLoad(() =>
    project.up({
      continueOnError: true,
      onEvent: (e) => {
        const m = e.resourcePreEvent?.metadata;
        if (m && !["same", "read", "refresh"].includes(m.op)) steps.add(`${m.op} ${m.urn.split("::").slice(-2).join("::")}`);
        if (e.resOutputsEvent?.metadata.urn.endsWith("::blue-green-switch-command")) switchDone = Date.now();
      },
    }),
  );
  return { r: result, answers, switchDone, steps: [...steps].sort() };
}

function failures(answers: Answer[]): Answer[] {
  return answers.filter((a) => a.status !== 200 || a.error);
}

/** Requests the proxy sent to a colour (its httpd's access log: "ADDR:PORT: url:PATH"). */
async function fromProxy(colour: SimHost): Promise<number> {
  const log = (await colour.run("cat /var/lib/nhs-sim/www-access.log 2>/dev/null || true")).stdout;
  return log.split("\n").filter((l) => l.startsWith(`${proxy.address}:`) && l.includes(" url:")).length;
}

function changeRelease(n: number): void {
  fs.writeFileSync(path.join(project.dir, "nixos", "release.nix"), `# release ${n}\n{ }\n`);
}

beforeAll(async () => {
  hosts = await startHosts(3, { names: ["bgp", "bgb", "bgg"] });
  [proxy, blue, green] = hosts;
  const colourHealth = FAST_HEALTH;
  project = await E2EProject.create(hosts, {
    stack: "bg",
    parallelism: 3,
    servers: { bgp: { health: { ...FAST_HEALTH, http: [] } }, bgb: { health: colourHealth }, bgg: { health: colourHealth } },
    blueGreen: { proxy: "bgp", blue: "bgb", green: "bgg", live: "blue" },
    simEnv: { bgp: "proxy=80" },
  });
  const first = await project.up({ continueOnError: true });
  expect(first.ok, first.output + first.error).toBe(true);
}, 180_000);

afterAll(async () => {
  await project?.remove();
  for (const h of hosts ?? []) await h.stop();
});

describe("blue-green behind a real nginx", () => {
  it("the first run deploys both colours and points the proxy at live (blue)", async () => {
    const a = await ask();
    expect(a).toMatchObject({ status: 200, colour: "blue" });
    expect(a.body).toContain("nixos-system-bgb-"); // blue's own page
    expect((await project.outputs()).blueGreen).toMatchObject({ serving: "blue", proxy: "bgp", blue: "bgb", green: "bgg" });
  });

  it("a new release aimed at the colour that serves is refused before any host is touched", async () => {
    changeRelease(2);
    const before = await Promise.all(hosts.map((h) => h.commandCount()));
    const r = await project.up({ continueOnError: true });
    expect(r.ok).toBe(false);
    expect(r.output + r.error).toContain('blueGreen: live: the release changed, but live is still "blue", the colour that serves now ("bgb"). Blue-green deploys to the idle colour: set live: green');
    expect(await Promise.all(hosts.map((h) => h.commandCount()))).toEqual(before);
  });

  it("deploy: the idle colour (green) gets the release, passes Verify, takes the traffic; blue is untouched; no request fails", async () => {
    const blueGeneration = await blue.generation();
    const greenGeneration = await green.generation();
    project.setBlueGreen({ live: "green" });
    const { r, answers, switchDone } = await upUnderLoad();
    expect(r.ok, r.output + r.error).toBe(true);
    expect(failures(answers)).toEqual([]);
    const overlap = expectSwitch(answers, "blue", "green", switchDone);
    console.log(`deploy + switch: ${answers.length} requests in ${r.seconds.toFixed(1)} s, ${failures(answers).length} failed, colours ${sequence(answers).join(" → ")}, both answered for ${overlap} ms`);
    expect(await blue.generation()).toBe(blueGeneration);
    expect(await green.generation()).toBe(greenGeneration + 1);
    // Nothing of blue's changes: not its upload, sync, rebuild or verify.
    expect(changed(r.ops).filter((n) => n.startsWith("bgb-"))).toEqual([]);
    expect(changed(r.ops)).toEqual(expect.arrayContaining(["bgg-rebuild", "bgg-verify", "blue-green-switch-command"]));
    expect((await project.outputs()).blueGreen).toMatchObject({ serving: "green" });
  }, 180_000);

  it("switch back: changing only live runs only the switch; no request fails", async () => {
    const generations = await Promise.all(hosts.map((h) => h.generation()));
    const sessions = await Promise.all(hosts.map((h) => h.commandCount()));
    project.setBlueGreen({ live: "blue" });
    const { r, answers, switchDone, steps } = await upUnderLoad();
    expect(r.ok, r.output + r.error).toBe(true);
    expect(failures(answers)).toEqual([]);
    const overlap = expectSwitch(answers, "green", "blue", switchDone);
    console.log(`switch back: ${answers.length} requests in ${r.seconds.toFixed(1)} s, ${failures(answers).length} failed, colours ${sequence(answers).join(" → ")}, both answered for ${overlap} ms`);
    // The one command that ran (provider resources run nothing on a host), and the SSH sessions
    // each host's sshd started: one on the proxy, none on the colours.
    console.log(`switch back steps: ${steps.join(", ")}`);
    // (A new target replaces the switch command: its create runs; it has no delete command.)
    expect(steps.filter((s) => !s.includes(" pulumi:providers:"))).toEqual(
      ["create-replacement", "delete-replaced", "replace"].map((op) => `${op} nixos-home-server:index:TrafficSwitch$command:remote:Command::blue-green-switch-command`),
    );
    const after = await Promise.all(hosts.map((h) => h.commandCount()));
    expect(after.map((n, i) => n - sessions[i])).toEqual([1, 0, 0]);
    expect(await Promise.all(hosts.map((h) => h.generation()))).toEqual(generations);
    // Blue still runs the release it had before green's deploy: the rollback.
    expect((await ask()).body).toContain("nixos-system-bgb-");
    expect((await project.outputs()).blueGreen).toMatchObject({ serving: "blue" });
  }, 180_000);

  it("a broken idle colour fails Verify, never receives a request, and traffic stays on blue", async () => {
    changeRelease(3);
    project.setReleaseFault("bgg", "unit-fails:nginx.service");
    project.setBlueGreen({ live: "green" });
    const seenByGreen = await fromProxy(green);
    const { r, answers } = await upUnderLoad();
    expect(r.ok).toBe(false);
    console.log(`broken idle colour: ${answers.length} requests, ${failures(answers).length} failed, colours ${sequence(answers).join(" → ")}`);
    expect(r.output).toMatch(/report=nginx\.service failed; .*; rolled back from generation (\d+) to \d+; all checks pass on \d+/);
    expect(r.output).toContain("blue-green: traffic NOT switched to green (bgg); it stays where it was");
    expect(r.ops.get("blue-green-switch-command")?.has("update") ?? false).toBe(false);
    expect(failures(answers)).toEqual([]);
    expect(sequence(answers)).toEqual(["blue"]);
    expect(await fromProxy(green)).toBe(seenByGreen);
    expect((await project.outputs()).blueGreen).toMatchObject({ serving: "blue" });
  }, 180_000);
});
