// Blue-green without an engine: the config block, the plan (which colour a run deploys, which it
// leaves alone, what it refuses), and the switch command and its result line.
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../components/config";
import { pairRelease, parseSwitchResult, planBlueGreen, renderSwitch, upstreamAddress } from "../../components/lib/blueGreen";
import { HOSTS, configProblems, server } from "./fixtures";

const ctx = { hostDirectories: HOSTS };
const servers = HOSTS.map((n) => server(n));
const pair = { proxy: "nixos-staging", blue: "nixos-prod", green: "nixos-backup", live: "blue" };

const problems = (blueGreen: unknown) => configProblems({ servers, fleet: undefined, blueGreen }, ctx);

describe("blueGreen config", () => {
  it("accepts a pair behind a proxy, with port 80 and / by default", () => {
    expect(parseStackConfig({ servers, fleet: undefined, blueGreen: pair }, ctx).blueGreen).toEqual({ ...pair, port: 80, healthPath: "/" });
    expect(parseStackConfig({ servers, fleet: undefined }, ctx).blueGreen).toBeUndefined();
  });

  it("names the field and what to do for every mistake, all at once", () => {
    expect(problems({ ...pair, live: "red" })).toEqual(['blueGreen: live: must be "blue" or "green"']);
    expect(problems({ ...pair, green: "nixos-prod" })).toEqual(['blueGreen: green: "nixos-prod" is already the blue; proxy, blue and green must be three different servers']);
    expect(problems({ ...pair, proxy: "nixos-web" })).toEqual(['blueGreen: proxy: "nixos-web" is not a server of this stack (servers: nixos-staging, nixos-prod, nixos-backup)']);
    expect(problems({ ...pair, healthPath: "/a b" })).toEqual([`blueGreen: healthPath: must be a path such as "/" or "/healthz" (letters, digits, '.', '_', '~', '/', '-')`]);
    expect(problems({ ...pair, port: 0, colour: "blue" })).toEqual([
      "blueGreen: port: Too small: expected number to be >=1",
      'blueGreen: unknown key "colour" (check the spelling; see the config reference)',
    ]);
    const { live: _live, ...noLive } = pair;
    expect(problems(noLive)).toEqual(['blueGreen: live: must be "blue" or "green"']);
  });
});

describe("planBlueGreen", () => {
  const b = { ...pair, live: "green" as const, port: 80, healthPath: "/" };
  const r1 = pairRelease("a".repeat(64), "b".repeat(64));
  const r2 = pairRelease("a".repeat(64), "c".repeat(64));

  it("a first run deploys both colours and points the proxy at live", () => {
    expect(planBlueGreen(b, r1, undefined)).toEqual({ target: "green", deploy: ["blue", "green"], untouched: [] });
  });

  it("a changed release goes to live, the idle colour; the serving colour is left alone", () => {
    expect(planBlueGreen(b, r2, { serving: "blue", release: r1 })).toEqual({ target: "green", deploy: ["green"], untouched: ["blue"] });
  });

  it("an unchanged release only moves traffic: a switch back touches neither colour", () => {
    expect(planBlueGreen({ ...b, live: "blue" }, r2, { serving: "green", release: r2 })).toEqual({ target: "blue", deploy: [], untouched: ["blue", "green"] });
    expect(planBlueGreen(b, r2, { serving: "green", release: r2 })).toEqual({ target: "green", deploy: [], untouched: ["blue", "green"] });
  });

  it("refuses a changed release aimed at the colour that serves, saying what to set", () => {
    expect(() => planBlueGreen(b, r2, { serving: "green", release: r1 })).toThrow(
      'blueGreen: live: the release changed, but live is still "green", the colour that serves now ("nixos-backup"). Blue-green deploys to the idle colour: set live: blue to deploy this release to "nixos-prod" and switch traffic to it once it passes Verify',
    );
  });

  it("the pair's release changes with either colour's tree", () => {
    expect(r1).toMatch(/^[0-9a-f]{64}$/);
    expect(r1).not.toBe(r2);
    expect(pairRelease("b".repeat(64), "a".repeat(64))).not.toBe(pairRelease("a".repeat(64), "b".repeat(64)));
  });
});

describe("the switch command", () => {
  it("is the dispatcher's switch-upstream verb with every argument quoted", () => {
    expect(renderSwitch({ colour: "green", upstream: upstreamAddress("10.0.0.3", 8080), healthPath: "/healthz" })).toBe(
      "/var/lib/nixos-home-server/dispatch switch-upstream 'green' '10.0.0.3:8080' '/healthz'",
    );
    expect(upstreamAddress("fd00::3", 80)).toBe("[fd00::3]:80");
    expect(upstreamAddress("blue.home.arpa", 80)).toBe("blue.home.arpa:80");
  });

  it("parses the proxy's result line strictly", () => {
    expect(parseSwitchResult("x\nnhs-result status=ok colour=green upstream=10.0.0.3:80 previous=blue report=the proxy sends / to green\n", "px")).toEqual({
      colour: "green",
      upstream: "10.0.0.3:80",
      previous: "blue",
    });
    expect(() => parseSwitchResult("nhs-result status=ok colour=green upstream=a:1\n", "px")).toThrow('switch-upstream on px: result line has no "previous" key');
    expect(() => parseSwitchResult("nhs-result status=ok colour=red upstream=a:1 previous=none\n", "px")).toThrow('switch-upstream on px: colour "red" is not blue or green');
  });
});
