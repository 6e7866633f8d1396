import { describe, expect, it } from "vitest";
import { parseStackConfig, worstCaseVerifySeconds } from "../../components/config";
import { HOSTS, configProblems, hostKeyFor, server } from "./fixtures";

const ctx = { hostDirectories: HOSTS, configKeys: new Set(["nixos-home-server:nixosProdPassword"]) };

const problems = (servers: unknown, fleet?: unknown) => configProblems({ servers, fleet }, ctx);

describe("parseStackConfig: valid input", () => {
  it("applies safe defaults", () => {
    const c = parseStackConfig({ servers: [server("nixos-staging")], fleet: undefined }, ctx);
    expect(c.fleet).toEqual({ deployFrom: [], parallelism: 1, keepReleases: 3, keepGenerations: 10 });
    const s = c.servers[0];
    expect(s.port).toBe(22);
    expect(s.mode).toBe("switch");
    expect(s.tags).toEqual([]);
    expect(s.confirmTimeoutSeconds).toBe(600);
    expect(s.activationTimeoutSeconds).toBe(1800);
    expect(s.health).toEqual({ units: [], http: [], commands: [], journal: "fail", retries: 5, intervalSeconds: 5, timeoutSeconds: 10, minFreeMb: 1024 });
    expect(s.deployKeyRotation).toBe(1);
  });

  it("accepts a password bootstrap by secret reference and http defaults", () => {
    const c = parseStackConfig(
      { servers: [server("nixos-prod", { bootstrap: { password: { secretKey: "nixosProdPassword" } }, health: { http: [{ url: "http://localhost/" }] } })], fleet: {} },
      ctx,
    );
    expect(c.servers[0].bootstrap.password).toEqual({ secretKey: "nixosProdPassword" });
    expect(c.servers[0].health.http).toEqual([{ url: "http://localhost/", status: 200 }]);
  });

  it("accepts a real host key whose base64 happens to spell a placeholder word", () => {
    // Random base64 spells "xxx" or "todo" about once in a thousand keys; a CI run met one.
    const [type, b64] = hostKeyFor("nixos-prod").split(" ");
    for (const word of ["XXX", "todo", "Change"]) {
      const hostKey = `${type} ${b64.slice(0, 30)}${word}${b64.slice(30 + word.length)}`;
      expect(parseStackConfig({ servers: [server("nixos-prod", { hostKey })], fleet: {} }, ctx).servers[0].hostKey).toBe(hostKey);
    }
  });

  it("worst-case verify time counts every check, retry and interval", () => {
    const h = { units: ["a.service"], http: [], commands: [], journal: "fail" as const, retries: 3, intervalSeconds: 5, timeoutSeconds: 10, minFreeMb: 0 };
    expect(worstCaseVerifySeconds(h)).toBe(3 * 4 * 10 + 2 * 5);
  });
});

// Each case: a broken stack and a fragment its one-message report must contain.
const hostile: [string, unknown, string][] = [
  ["servers missing", undefined, "servers: must be a non-empty list"],
  ["servers empty", [], "servers: must be a non-empty list"],
  ["servers not a list", { name: "x" }, "servers: must be a non-empty list"],
  ["name missing", [{ ...server("nixos-prod"), name: undefined }], "servers[0]: name: is required"],
  ["name with uppercase", [server("Nixos-Prod")], 'servers[0] "Nixos-Prod": name: must be lowercase'],
  ["name with shell injection", [server("x;rm -rf /")], 'servers[0] "x;rm -rf /": name: must be lowercase'],
  ["name without host dir", [server("nixos-ghost")], 'servers[0] "nixos-ghost": name: no nixos/hosts/nixos-ghost/default.nix'],
  ["duplicate names", [server("nixos-prod"), server("nixos-prod", { host: "other.home.arpa" })], 'servers[1] "nixos-prod": name: duplicate of servers[0]'],
  ["duplicate host:port", [server("nixos-prod"), server("nixos-staging", { host: "nixos-prod.home.arpa" })], 'servers[1] "nixos-staging": host: nixos-prod.home.arpa:22 is already servers[0]'],
  ["host with ;", [server("nixos-prod", { host: "a.home.arpa;reboot" })], 'servers[0] "nixos-prod": host: "a.home.arpa;reboot" contains shell metacharacters (";")'],
  ["host with $()", [server("nixos-prod", { host: "$(id)" })], "host: \"$(id)\" contains shell metacharacters"],
  ["host with space", [server("nixos-prod", { host: "a b" })], "host: \"a b\" contains shell metacharacters"],
  ["host with leading dash", [server("nixos-prod", { host: "-oProxyCommand" })], "host: \"-oProxyCommand\" is not a hostname or IP address"],
  ["user with backtick", [server("nixos-prod", { user: "de`id`" })], 'user: "de`id`" contains shell metacharacters'],
  ["user uppercase", [server("nixos-prod", { user: "Deploy" })], 'user: "Deploy" is not a valid user name'],
  ["port out of range", [server("nixos-prod", { port: 70000 })], 'servers[0] "nixos-prod": port: Too big'],
  ["port as string", [server("nixos-prod", { port: "22" })], "port: Invalid input: expected number, received string"],
  ["placeholder host key", [server("nixos-prod", { hostKey: "ssh-ed25519 REPLACE_ME" })], "hostKey: is a placeholder, not a host key; run `ssh-keyscan -t ed25519 -p 22 nixos-prod.home.arpa`"],
  ["rsa host key", [server("nixos-prod", { hostKey: "ssh-rsa AAAAB3NzaC1yc2E" })], 'hostKey: must start with "ssh-ed25519"'],
  ["truncated host key", [server("nixos-prod", { hostKey: hostKeyFor("x").slice(0, 40) })], "hostKey: is not a valid ed25519 public key"],
  ["inline password", [server("nixos-prod", { bootstrap: { password: "hunter2" } })], "bootstrap.password: must be { secretKey: \"<config key>\" }; never put the password inline"],
  ["two bootstrap methods", [server("nixos-prod", { bootstrap: { agent: {}, keyFile: { path: "/k" } } })], "bootstrap: give exactly one of agent, keyFile or password (got agent, keyFile)"],
  ["no bootstrap method", [server("nixos-prod", { bootstrap: {} })], "bootstrap: give exactly one of agent, keyFile or password (got none)"],
  ["relative agent socket", [server("nixos-prod", { bootstrap: { agent: { socket: "agent.sock" } } })], "bootstrap.agent.socket: must be an absolute path"],
  ["unknown server key", [server("nixos-prod", { hostname: "x" })], 'servers[0] "nixos-prod": unknown key "hostname"'],
  ["unknown health key", [server("nixos-prod", { health: { unit: ["nginx.service"] } })], 'health: unknown key "unit"'],
  ["bad mode", [server("nixos-prod", { mode: "reboot" })], "mode: must be one of switch, boot, test, dry-activate"],
  ["bad unit name", [server("nixos-prod", { health: { units: ["nginx; reboot"] } })], "health.units[0]: must be a systemd unit name"],
  ["bad http url", [server("nixos-prod", { health: { http: [{ url: "ftp://x" }] } })], "health.http[0].url: must be an http:// or https:// URL"],
  ["bad http status", [server("nixos-prod", { health: { http: [{ url: "http://x/", status: 99 }] } })], "health.http[0].status: Too small"],
  ["multi-line command", [server("nixos-prod", { health: { commands: ["true\nreboot"] } })], "health.commands[0]: must be one line"],
  ["journal not an enum", [server("nixos-prod", { health: { journal: true } })], "health.journal: Invalid option"],
  ["activation timeout too short", [server("nixos-prod", { activationTimeoutSeconds: 5 })], "activationTimeoutSeconds: Too small"],
  ["activation timeout not whole", [server("nixos-prod", { activationTimeoutSeconds: 60.5 })], "activationTimeoutSeconds: Invalid input: expected int"],
  ["zero retries", [server("nixos-prod", { health: { retries: 0 } })], "health.retries: Too small"],
  [
    "confirm timeout below worst-case verify",
    [server("nixos-prod", { confirmTimeoutSeconds: 100, health: { units: ["a.service", "b.service"], retries: 3, timeoutSeconds: 10, intervalSeconds: 5 } })],
    "confirmTimeoutSeconds: 100s is not larger than the worst-case verify time of 160s",
  ],
  ["server is not an object", ["nixos-prod"], "servers[0]: Invalid input: expected object, received string"],
];

describe("parseStackConfig: hostile and broken input", () => {
  it.each(hostile)("%s", (_label, servers, expected) => {
    const found = problems(servers);
    expect(found.join("\n")).toContain(expected);
  });

  it("reports fleet problems", () => {
    expect(problems([server("nixos-prod")], { parallelism: 0, keepReleases: 1, extra: true }).join("\n")).toMatch(
      /fleet: unknown key "extra"[\s\S]*fleet: parallelism: Too small[\s\S]*fleet: keepReleases: Too small|fleet: parallelism/,
    );
    expect(problems([server("nixos-prod")], { parallelism: 0 })).toEqual([expect.stringContaining("fleet: parallelism: Too small")]);
  });

  it("checks deployFrom: addresses and CIDRs only, each bad one named", () => {
    expect(problems([server("nixos-prod")], { deployFrom: ["192.168.1.0/24", "fd00::/8", "10.0.0.7"] })).toEqual([]);
    expect(problems([server("nixos-prod")], { deployFrom: ["10.0.0.0/33", "lan", "10.0.0.0/8\" ,x"] })).toEqual([
      'fleet: deployFrom[0]: "10.0.0.0/33" is not an IPv4 or IPv6 address or CIDR (e.g. 192.168.1.0/24 or fd00::/8); sshd would refuse the deploy key from everywhere',
      'fleet: deployFrom[1]: "lan" is not an IPv4 or IPv6 address or CIDR (e.g. 192.168.1.0/24 or fd00::/8); sshd would refuse the deploy key from everywhere',
      'fleet: deployFrom[2]: "10.0.0.0/8\\" ,x" is not an IPv4 or IPv6 address or CIDR (e.g. 192.168.1.0/24 or fd00::/8); sshd would refuse the deploy key from everywhere',
    ]);
  });

  it("a bootstrap secret that is not set is a warning: later runs (CI) do not need it", () => {
    const c = parseStackConfig({ servers: [server("nixos-prod", { bootstrap: { password: { secretKey: "missingKey" } } })], fleet: {} }, { ...ctx, configKeys: new Set() });
    expect(c.warnings).toEqual([
      'servers[0] "nixos-prod": bootstrap.password.secretKey: config key "nixos-home-server:missingKey" is not set; fine once this stack\'s deploy key is on the host, but a first install fails without it (`pulumi config set --secret missingKey <value>`)',
    ]);
  });

  it("reports every problem of every server in one message", () => {
    let message = "";
    try {
      parseStackConfig({ servers: [server("nixos-prod", { port: 0, hostKey: "REPLACE_ME" }), server("nixos-staging", { user: "a;b" })], fleet: {} }, ctx);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^Invalid stack configuration \(3 problems\):/);
    expect(message).toContain('servers[0] "nixos-prod": port:');
    expect(message).toContain('servers[0] "nixos-prod": hostKey: is a placeholder');
    expect(message).toContain('servers[1] "nixos-staging": user:');
  });

  it("has at least 25 hostile cases", () => {
    expect(hostile.length).toBeGreaterThanOrEqual(25);
  });
});
