// The blue-green switch on a real nginx (Debian's) in the simulated proxy host: the dispatcher's
// switch-upstream verb swaps the upstream include, reloads as NixOS's unit does, checks through
// the proxy, and puts the previous upstream back when the new colour does not answer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimHost, startHosts, stopAllHosts } from "../harness/hosts";
import { BASE, makeRelease, syncRelease } from "../harness/release";
import { renderSwitch } from "../../components/lib/blueGreen";
import { run, deployArgs } from "./helpers";
import { parseResult } from "../harness/release";

let proxy: SimHost, blue: SimHost, green: SimHost;

/** What the proxy answers from the test process: status, the colour header, and the body. */
async function viaProxy(): Promise<{ status: number; colour: string | null; body: string }> {
  const r = await fetch(`http://${proxy.address}/`, { headers: { connection: "close" } });
  return { status: r.status, colour: r.headers.get("x-nhs-colour"), body: await r.text() };
}

beforeAll(async () => {
  [proxy, blue, green] = await startHosts(3, { names: ["swp", "swb", "swg"] });
  const dir = makeRelease({ hosts: { swp: { proxy: 80 } } });
  const synced = await syncRelease(proxy, dir);
  expect(synced.code, synced.stderr).toBe(0);
  const d = await run(proxy, synced.hash, "deploy.sh", deployArgs(proxy, synced.hash));
  expect(d.code, d.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await stopAllHosts();
});

describe("switch-upstream on a real nginx", () => {
  it("starts with no colour: the proxy answers 502 until the first switch", async () => {
    expect(await viaProxy()).toMatchObject({ status: 502, colour: "none" });
    // nginx is the generation's, by its store path; it is not on the system PATH (nixpkgs' module adds none).
    expect((await proxy.run("PATH=/run/wrappers/bin:/run/current-system/sw/bin; command -v nginx || echo none")).stdout.trim()).toBe("none");
  });

  it("switches to blue, then to green, each checked through the proxy", async () => {
    const toBlue = await proxy.ssh(renderSwitch({ colour: "blue", upstream: `${blue.address}:80`, healthPath: "/" }));
    expect(toBlue.code, toBlue.stderr).toBe(0);
    expect(parseResult(toBlue.stdout)).toMatchObject({ status: "ok", colour: "blue", previous: "none" });
    const a = await viaProxy();
    expect(a).toMatchObject({ status: 200, colour: "blue" });
    expect(a.body).toContain("nixos-system-swb-"); // blue's own page names its host
    const toGreen = await proxy.ssh(renderSwitch({ colour: "green", upstream: `${green.address}:80`, healthPath: "/" }));
    expect(toGreen.code, toGreen.stderr).toBe(0);
    expect(parseResult(toGreen.stdout)).toMatchObject({ status: "ok", colour: "green", previous: "blue" });
    expect((await viaProxy()).body).toContain("nixos-system-swg-");
    // The include lives outside the store and names the colour; the master kept running (a reload, no restart).
    expect((await proxy.run(`cat ${BASE}/proxy/upstream.conf`)).stdout).toContain(`server ${green.address}:80;`);
    expect((await proxy.run("journalctl -u nginx.service")).stdout).toMatch(/Reloaded nginx.service/);
  });

  it("a colour that does not answer is refused before nginx sees it; traffic stays", async () => {
    const before = (await proxy.run(`cat ${BASE}/proxy/upstream.conf`)).stdout;
    const bad = await proxy.ssh(renderSwitch({ colour: "blue", upstream: `${blue.address}:81`, healthPath: "/" }));
    expect(bad.code).toBe(1);
    const res = parseResult(bad.stdout);
    expect(res).toMatchObject({ status: "failed", colour: "green", previous: "green" });
    expect(res.report).toBe(`blue (${blue.address}:81) answers / with 000 (not 200) from the proxy host; the proxy was not changed, traffic stays on green`);
    expect((await proxy.run(`cat ${BASE}/proxy/upstream.conf`)).stdout).toBe(before);
    expect(await viaProxy()).toMatchObject({ status: 200, colour: "green" });
  });

  it("nginx not running: the reload fails, the previous upstream is put back, the host needs a human", async () => {
    const before = (await proxy.run(`cat ${BASE}/proxy/upstream.conf`)).stdout;
    await proxy.run("systemctl stop nginx.service");
    try {
      const r = await proxy.ssh(renderSwitch({ colour: "blue", upstream: `${blue.address}:80`, healthPath: "/" }));
      expect(r.code).toBe(4);
      expect(parseResult(r.stdout)).toMatchObject({ status: "rollback-failed" });
      expect(r.stderr).toMatch(/nginx.service is not active, cannot reload/);
      expect((await proxy.run(`cat ${BASE}/proxy/upstream.conf`)).stdout).toBe(before);
    } finally {
      await proxy.run("systemctl start nginx.service");
    }
    expect(await viaProxy()).toMatchObject({ status: 200, colour: "green" });
  }, 30_000);

  it("the dispatcher refuses a bad colour, upstream or path before anything runs", async () => {
    for (const [args, why] of [
      [["red", `${blue.address}:80`, "/"], /colour must be blue or green/],
      [["blue", "a;b:80", "/"], /upstream must be HOST:PORT/],
      [["blue", `${blue.address}:80`, "/x y"], /path has characters outside/],
    ] as const) {
      const r = await proxy.ssh(`${BASE}/dispatch switch-upstream ${args.map((a) => `'${a}'`).join(" ")}`);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(why);
    }
    expect(await viaProxy()).toMatchObject({ status: 200, colour: "green" });
  });
});
