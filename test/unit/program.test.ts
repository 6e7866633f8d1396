// The whole program under Pulumi mocks: graph shape, dependencies, fleet lanes and secrets.
import * as pulumi from "@pulumi/pulumi";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { openSshKeyPairFromSeed } from "../../components/lib/sshKey";
import { hostKeyFor, server } from "./fixtures";

const PASSWORD = "bootstrap-password-do-not-leak";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

interface Registration {
  type: string;
  name: string;
  parent: string;
  deps: string[];
  inputs: Record<string, unknown>;
  additionalSecretOutputs: string[];
  ignoreChanges: string[];
}

function seedFor(name: string): Buffer {
  const seed = Buffer.alloc(32, 0);
  Buffer.from(name).copy(seed);
  return seed;
}

function stdoutFor(name: string, inputs: Record<string, unknown>): string {
  if (name.endsWith("-config-sync")) {
    const h = (inputs.triggers as string[])[0];
    return `nhs-result status=ok release=/var/lib/nixos-home-server/releases/${h} hash=${h}`;
  }
  if (name.endsWith("-rebuild")) {
    return "nhs-result status=ok name=x mode=switch previous=42 generation=43 store=/nix/store/abc-nixos-system duration=12 watchdog=armed at=2026-11-28T12:00:00Z";
  }
  if (name.endsWith("-verify")) return "nhs-result status=ok generation=43 checks=6 report=all 6 checks pass on generation 43";
  if (name.endsWith("-switch-command")) {
    const [, , colour, upstream] = String(inputs.create).split(" ");
    return `nhs-result status=ok colour=${colour.replace(/'/g, "")} upstream=${upstream.replace(/'/g, "")} previous=none report=ok`;
  }
  return "nhs-result status=ok";
}

async function runProgram(
  servers: unknown[],
  fleet: unknown,
  secrets: Record<string, string> = {},
  registrations: Registration[] = [],
  blueGreen?: { config: unknown; lastRun?: unknown },
) {
  pulumi.runtime.setAllConfig(
    {
      "nixos-home-server:servers": JSON.stringify(servers),
      "nixos-home-server:fleet": JSON.stringify(fleet),
      ...(blueGreen ? { "nixos-home-server:blueGreen": JSON.stringify(blueGreen.config) } : {}),
      ...Object.fromEntries(Object.entries(secrets).map(([k, v]) => [`nixos-home-server:${k}`, v])),
    },
    Object.keys(secrets).map((k) => `nixos-home-server:${k}`),
  );
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (args.type === "random:index/randomBytes:RandomBytes") {
          const seed = seedFor(args.name);
          return { id: `${args.name}-id`, state: { ...args.inputs, base64: seed.toString("base64"), hex: seed.toString("hex") } };
        }
        if (args.type === "command:remote:Command") {
          return { id: `${args.name}-id`, state: { ...args.inputs, stdout: stdoutFor(args.name, args.inputs), stderr: "" } };
        }
        if (args.type === "command:remote:CopyToRemote") return { id: `${args.name}-id`, state: args.inputs };
        if (args.type === "pulumi-nodejs:dynamic/nixos-home-server:HostProbe") {
          const observed = { system: "/nix/store/old-nixos-system", deployed: "none" };
          return { id: `${args.name}-id`, state: { ...args.inputs, observed, drifted: false } };
        }
        if (args.type === "pulumi:pulumi:StackReference") {
          // The stack's own outputs from its last run.
          return { id: args.name, state: { ...args.inputs, outputs: blueGreen?.lastRun ? { blueGreen: blueGreen.lastRun } : {}, secretOutputNames: [] } };
        }
        if (args.type.startsWith("nixos-home-server:index:")) return { id: undefined, state: {} };
        throw new Error(`Mock not implemented: ${args.type}`);
      },
      call(args) {
        throw new Error(`Mock not implemented: ${args.token}`);
      },
    },
    "nixos-home-server",
    "unit",
    false,
    "organization",
  );
  // Record what the engine would receive: parents, explicit dependencies, raw (secret-marked) inputs.
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource: (req: any, cb: any) => void };
  const original = monitor.registerResource.bind(monitor);

  monitor.registerResource = (req: any, cb: any) => {
    registrations.push({
      type: req.getType(),
      name: req.getName(),
      parent: req.getParent(),
      deps: req.getDependenciesList(),
      inputs: req.getObject()?.toJavaScript() ?? {},
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      ignoreChanges: req.getIgnorechangesList(),
    });
    original(req, cb);
  };
  const program = await import("../../index");
  const exported = await new Promise<Record<string, any>>((resolve) => pulumi.output(program.servers).apply(resolve));
  if (blueGreen) await new Promise((resolve) => pulumi.output(program.blueGreen).apply(resolve));
  await new Promise((r) => setTimeout(r, 50));
  const byName = (name: string) => {
    const r = registrations.find((x) => x.name === name);
    if (!r) throw new Error(`no resource named ${name}; have ${registrations.map((x) => x.name).join(", ")}`);
    return r;
  };
  /** Names of the resources `name` explicitly depends on (the last URN segment is the name). */
  const deps = (name: string) => byName(name).deps.map((u) => u.slice(u.lastIndexOf("::") + 2));
  return { registrations, exported, byName, deps };
}

beforeEach(() => {
  vi.resetModules();
  // The committed example hosts still carry the placeholder hardware file, which the program
  // refuses (the last test here, and hardware.test.ts); the graph tests deploy them as if replaced.
  vi.doMock("../../components/lib/hardware", async (importOriginal) => ({ ...(await importOriginal<object>()), placeholderHardwareFiles: () => [] }));
});
afterEach(() => vi.restoreAllMocks());

describe("one server", () => {
  it("builds DeployKey -> KeyAuthorization -> ConfigSync -> Rebuild -> Verify under one NixosServer", async () => {
    const { registrations, exported, byName, deps } = await runProgram([server("nixos-staging")], {});
    const names = registrations.map((r) => `${r.type} ${r.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        "nixos-home-server:index:NixosServer nixos-staging",
        "nixos-home-server:index:DeployKey nixos-staging-deploy-key",
        "random:index/randomBytes:RandomBytes nixos-staging-deploy-key-seed",
        "nixos-home-server:index:KeyAuthorization nixos-staging-key-authorization",
        "command:remote:CopyToRemote nixos-staging-key-authorization-dispatcher",
        "command:remote:Command nixos-staging-key-authorization-install",
        "command:remote:Command nixos-staging-key-authorization-login-test",
        "command:remote:CopyToRemote nixos-staging-config-sync-upload",
        "command:remote:Command nixos-staging-config-sync",
        // Even with nothing to upload: an empty list is how the last secret leaves the host.
        "command:remote:Command nixos-staging-secrets",
        "pulumi-nodejs:dynamic/nixos-home-server:HostProbe nixos-staging-probe",
        "command:remote:Command nixos-staging-rebuild",
        "command:remote:Command nixos-staging-verify",
      ]),
    );
    expect(registrations.filter((r) => r.type !== "pulumi:pulumi:Stack")).toHaveLength(13);
    // Rotation 1 has no previous key, so no second seed (its secrets would ride in every checkpoint).
    expect(names).not.toContain("random:index/randomBytes:RandomBytes nixos-staging-deploy-key-seed-even");
    // Nothing to upload: an empty (still secret) stdin, which removes whatever an earlier run left.
    const emptySecrets = byName("nixos-staging-secrets").inputs.stdin as Record<string, unknown>;
    expect(emptySecrets[SECRET_SIG]).toBeTruthy();
    expect(emptySecrets.value).toBe("");
    for (const child of ["nixos-staging-deploy-key", "nixos-staging-key-authorization", "nixos-staging-config-sync", "nixos-staging-rebuild", "nixos-staging-verify"]) {
      expect(byName(child).parent).toMatch(/NixosServer::nixos-staging$/);
    }
    expect(deps("nixos-staging-key-authorization-login-test")).toContain("nixos-staging-key-authorization-install");
    // The upload needs only the installed key, so it runs beside the login test; the unpack waits for both.
    expect(deps("nixos-staging-config-sync-upload")).toContain("nixos-staging-key-authorization-install");
    expect(deps("nixos-staging-config-sync-upload")).not.toContain("nixos-staging-key-authorization-login-test");
    expect(deps("nixos-staging-config-sync")).toEqual(expect.arrayContaining(["nixos-staging-key-authorization-login-test", "nixos-staging-config-sync-upload"]));
    expect(byName("nixos-staging-probe").parent).toMatch(/Command::nixos-staging-config-sync$/);
    expect(deps("nixos-staging-probe")).toContain("nixos-staging-config-sync");
    expect(deps("nixos-staging-rebuild")).toContain("nixos-staging-probe");
    expect(deps("nixos-staging-verify")).toContain("nixos-staging-rebuild");

    const out = exported["nixos-staging"];
    expect(out.generation).toBe(43);
    expect(out.storePath).toBe("/nix/store/abc-nixos-system");
    expect(out.configHash).toMatch(/^[0-9a-f]{64}$/);
    expect(out.deployedAt).toBe("2026-11-28T12:00:00Z");
    expect(out.verification).toBe("all 6 checks pass on generation 43");
    expect(out.deployPublicKey).toBe(openSshKeyPairFromSeed(seedFor("nixos-staging-deploy-key-seed"), "nhs-deploy@unit/nixos-staging").publicKey);

    const sync = byName("nixos-staging-config-sync").inputs;
    expect(sync.triggers).toEqual([out.configHash]);
    // State holds the release's path and hash, never its bytes: no stdin, a FileAsset of <hash>.tar.gz.
    expect(sync.stdin).toBeUndefined();
    const upload = byName("nixos-staging-config-sync-upload").inputs;
    expect(upload.remotePath).toBe(`.nhs-release-${out.configHash}.tar.gz`);
    const source = upload.source as Record<string, unknown>;
    expect(source[SECRET_SIG]).toBe("c44067f5952c0a294b673a41bacd8c17"); // the asset signature
    expect(source.text).toBeUndefined();
    expect(source.path).toMatch(new RegExp(`/\\.nhs-releases/${out.configHash}\\.tar\\.gz$`));
    // A refresh that finds drift replaces the probe; its id is part of Rebuild's triggers.
    expect(byName("nixos-staging-rebuild").inputs.triggers).toEqual([out.configHash, "nixos-staging-probe-id"]);
    expect(sync.create).toBe(`/var/lib/nixos-home-server/dispatch receive '${out.configHash}' '3'`);
    // The login test goes through the dispatcher too: the host rewrites this stack's key line.
    expect(byName("nixos-staging-key-authorization-login-test").inputs.create).toBe(
      `/var/lib/nixos-home-server/dispatch authorize '${out.deployPublicKey.split(" ")[1]}'`,
    );
    // Bootstrap credentials serve only the first install: later changes (or their absence in CI) are ignored.
    expect(byName("nixos-staging-key-authorization-install").inputs.create).toContain(`restrict,command="/var/lib/nixos-home-server/dispatch --key nhs-deploy@unit/nixos-staging"`);
    expect(byName("nixos-staging-rebuild").inputs.create).toContain(`'--release' '/var/lib/nixos-home-server/releases/${out.configHash}'`);
    expect(byName("nixos-staging-verify").inputs.logging).toBe("stdout");
    expect(byName("nixos-staging-verify").additionalSecretOutputs).toContain("stderr");

    for (const r of registrations.filter((x) => x.type === "command:remote:Command")) {
      expect(r.inputs.delete, `${r.name} must not delete anything`).toBeUndefined();
      expect(r.inputs.addPreviousOutputInEnv).toBe(false);
    }
  });
});

describe("deploy key rotation", () => {
  it("the previous key authorizes the new one; the bootstrap install never runs again", async () => {
    const { byName, deps, exported } = await runProgram([server("nixos-staging", { deployKeyRotation: 2 })], {});
    const keyOf = (seed: string) => openSshKeyPairFromSeed(seedFor(seed), "nhs-deploy@unit/nixos-staging");
    // Rotation 2 is the even seed; the odd one (rotation 1) is the key the host still accepts.
    expect(exported["nixos-staging"].deployPublicKey).toBe(keyOf("nixos-staging-deploy-key-seed-even").publicKey);
    const rotate = byName("nixos-staging-key-authorization-rotate");
    expect(rotate.inputs.create).toBe(`/var/lib/nixos-home-server/dispatch authorize '${keyOf("nixos-staging-deploy-key-seed-even").publicKey.split(" ")[1]}'`);
    // The previous key (the odd seed) is served on its own socket, which only the rotation uses.
    const socketOf = (n: string) => (byName(n).inputs.connection as { value: Record<string, unknown> }).value.agentSocketPath;
    expect(socketOf("nixos-staging-key-authorization-rotate")).toBe(".nhs-agent/unit--nixos-staging--previous.sock");
    expect(socketOf("nixos-staging-key-authorization-login-test")).toBe(".nhs-agent/unit--nixos-staging.sock");
    expect(deps("nixos-staging-key-authorization-login-test")).toContain("nixos-staging-key-authorization-rotate");
    expect(deps("nixos-staging-config-sync-upload")).toContain("nixos-staging-key-authorization-rotate");
    expect(byName("nixos-staging-key-authorization-install").ignoreChanges.sort()).toEqual(["connection", "create"]);
    // A first install at rotation 2 puts both keys in, so the rotation step works on a new host too.
    expect(byName("nixos-staging-key-authorization-install").inputs.create).toContain(keyOf("nixos-staging-deploy-key-seed").publicKey.split(" ")[1]);
  });

  it("a bootstrap key file that is not on this machine (CI) is a warning, not an error", async () => {
    const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(() => undefined as never);
    const { byName } = await runProgram([server("nixos-staging", { bootstrap: { keyFile: { path: "/nonexistent/bootstrap_key" } } })], {});
    expect(warn.mock.calls.map((c) => c[0])).toContain(
      'servers "nixos-staging": bootstrap.keyFile.path: /nonexistent/bootstrap_key does not exist on this machine; fine once this stack\'s deploy key is on the host, but a first install fails without it',
    );
    // The graph is whole; the install (which ignores later connection changes) simply has no key.
    const conn = byName("nixos-staging-key-authorization-install").inputs.connection as { value: Record<string, unknown> };
    expect(conn.value.privateKey).toBeUndefined();
    expect(byName("nixos-staging-verify")).toBeDefined();
  });

  it("at rotation 1 there is no rotation step", async () => {
    const { registrations } = await runProgram([server("nixos-staging")], {});
    expect(registrations.map((r) => r.name)).not.toContain("nixos-staging-key-authorization-rotate");
  });
});

describe("three servers", () => {
  const three = () => [
    server("nixos-staging", { bootstrap: { password: { secretKey: "pw" } } }),
    server("nixos-prod"),
    server("nixos-backup", { port: 2222 }),
  ];

  // No server depends on another (the engine would skip a failed server's dependents); a server
  // is registered once an earlier one settled, so parallelism bounds the servers in flight.
  const serversOf = (deps: (n: string) => string[], step: string) => deps(step).map((d) => d.replace(/-(deploy-key-seed(?:-even)?|key-authorization-.*|config-sync(?:-upload)?|secrets|probe|rebuild|verify)$/, ""));
  const index = (registrations: Registration[], name: string) => registrations.findIndex((r) => r.name === name);

  it("parallelism 2 starts two servers, then the third once one of them settled", async () => {
    const { registrations, deps } = await runProgram(three(), { parallelism: 2 }, { pw: PASSWORD });
    for (const n of ["nixos-staging", "nixos-prod", "nixos-backup"]) {
      for (const step of ["key-authorization-install", "config-sync", "rebuild", "verify"]) {
        expect(serversOf(deps, `${n}-${step}`).every((s) => s === n), `${n}-${step} depends only on its own server`).toBe(true);
      }
    }
    expect(deps("nixos-prod-config-sync")).not.toContain("nixos-staging-verify");
    expect(deps("nixos-staging-key-authorization-install").sort()).toEqual(["nixos-staging-deploy-key-seed", "nixos-staging-key-authorization-dispatcher"]);
    const firstVerify = Math.min(index(registrations, "nixos-staging-verify"), index(registrations, "nixos-prod-verify"));
    expect(index(registrations, "nixos-prod")).toBeLessThan(index(registrations, "nixos-staging-verify"));
    expect(index(registrations, "nixos-backup")).toBeGreaterThan(firstVerify);
  });

  it("parallelism 1 registers each server after the previous one's Verify", async () => {
    const { registrations } = await runProgram(three(), { parallelism: 1 }, { pw: PASSWORD });
    expect(index(registrations, "nixos-prod")).toBeGreaterThan(index(registrations, "nixos-staging-verify"));
    expect(index(registrations, "nixos-backup")).toBeGreaterThan(index(registrations, "nixos-prod-verify"));
  });

  it("parallelism 3 starts every server before any Verify", async () => {
    const { registrations } = await runProgram(three(), { parallelism: 3 }, { pw: PASSWORD });
    const firstVerify = Math.min(...["nixos-staging", "nixos-prod", "nixos-backup"].map((n) => index(registrations, `${n}-verify`)));
    expect(index(registrations, "nixos-backup")).toBeLessThan(firstVerify);
  });

  it("npm run deploy's targets cover every resource of a server and none of another's", async () => {
    // One server with a secret, so its secrets command is registered too.
    const servers = [server("nixos-staging", { secrets: [{ name: "app-token", secretKey: "app" }] }), ...three().slice(1)];
    const { registrations } = await runProgram(servers, { parallelism: 3 }, { pw: PASSWORD, app: "app-value" });
    expect(registrations.map((r) => r.name)).toContain("nixos-staging-secrets");
    const { serverOf } = await import("../../components/lib/selection");
    const names = ["nixos-staging", "nixos-prod", "nixos-backup"];
    for (const r of registrations.filter((x) => x.type !== "pulumi:pulumi:Stack")) {
      // Every resource the program registers is one of a server's, by the names NixosServer gives.
      expect(serverOf(r.name, names), `${r.name} belongs to a server`).toBeDefined();
    }
  });

  it("keeps secrets secret and out of every command text", async () => {
    const { registrations, byName } = await runProgram(three(), { parallelism: 3 }, { pw: PASSWORD });
    const privateKeys = ["nixos-staging", "nixos-prod", "nixos-backup"].map(
      (n) => openSshKeyPairFromSeed(seedFor(`${n}-deploy-key-seed`), `nhs-deploy@unit/${n}`).privateKey,
    );
    const seeds = ["nixos-staging", "nixos-prod", "nixos-backup"].map((n) => seedFor(`${n}-deploy-key-seed`));
    const forbidden = [PASSWORD, ...privateKeys, ...privateKeys.map((k) => k.split("\n")[1]), ...seeds.map((b) => b.toString("base64")), ...seeds.map((b) => b.toString("hex"))];
    // Secret-wrapped values are encrypted in state; everything outside them must be free of secrets.
    const unwrapSecrets = (_k: string, v: unknown) => (v && typeof v === "object" && SECRET_SIG in v ? "[secret]" : v);
    for (const r of registrations) {
      const { connection } = r.inputs;
      const text = JSON.stringify(r.inputs, unwrapSecrets);
      for (const f of forbidden) expect(text.includes(f), `${r.name} leaks a secret`).toBe(false);
      if (r.type.startsWith("command:remote:")) {
        // pulumi-command's SDK makes every connection secret. A deploy-key connection names the agent
        // socket and holds no key at all.
        const c = connection as { value: Record<string, unknown> };
        expect(c[SECRET_SIG as keyof typeof c], `${r.name}: connection must be secret`).toBeTruthy();
        if (!r.name.endsWith("-install") && !r.name.endsWith("-dispatcher")) {
          expect(c.value.agentSocketPath, `${r.name}: connects through the agent`).toMatch(/^\.nhs-agent\/unit--nixos-[a-z]+\.sock$/);
          expect(c.value.privateKey, `${r.name}: holds no key`).toBeUndefined();
        }
      }
    }
    const install = byName("nixos-staging-key-authorization-install").inputs.connection as { value: Record<string, unknown> };
    expect(JSON.stringify(install)).toContain(PASSWORD); // it is there, but only inside the secret connection
    expect(install.value.hostKey).toBe(hostKeyFor("nixos-staging"));
    const sync = byName("nixos-backup-config-sync").inputs.connection as { value: Record<string, unknown> };
    expect(sync.value.port).toBe(2222);
    expect(sync.value.agentSocketPath).toBe(".nhs-agent/unit--nixos-backup.sock");
    // HostProbe reads the host on refresh, when no program runs to serve an agent: it keeps the seed, secret.
    expect(byName("nixos-backup-probe").inputs.privateKey).toEqual({ [SECRET_SIG]: "1b47061264138c4ac30d75fd1eb44270", value: seeds[2].toString("base64") });
    expect(byName("nixos-staging-deploy-key-seed").additionalSecretOutputs).toEqual(expect.arrayContaining(["base64", "hex"]));
  });

  it("refuses a server that still has the placeholder hardware file, before registering any resource", async () => {
    vi.doUnmock("../../components/lib/hardware");
    await expect(runProgram([server("nixos-staging"), server("nixos-prod")], {})).rejects.toThrow(
      /servers\[0\] "nixos-staging": nixos\/hosts\/nixos-staging\/hardware-configuration.nix is the placeholder hardware file[\s\S]*servers\[1\] "nixos-prod": nixos\/hosts\/nixos-prod\/hardware-configuration.nix is the placeholder[\s\S]*nixos-generate-config --show-hardware-config/,
    );
  });

  it("uploads secrets and notification credentials on a secret stdin before the rebuild", async () => {
    const HOOK = "https://hooks.example.test/T0/canary-hook";
    const SMTP = `smtp-canary-"$;\\`;
    const APP = "app-secret-canary";
    const notify = {
      webhook: { url: { secretKey: "hook" } },
      email: { smtpUrl: "smtp://mail.home.arpa:587", from: "nhs@home.arpa", to: ["me@home.arpa"], user: "nhs", password: { secretKey: "smtpPw" } },
    };
    const servers = [server("nixos-staging", { secrets: [{ name: "app-token", secretKey: "app", restartUnits: ["nginx.service"] }] }), server("nixos-prod")];
    const { registrations, byName, deps, exported } = await runProgram(servers, { notify }, { hook: HOOK, smtpPw: SMTP, app: APP });
    const unwrapSecrets = (_k: string, v: unknown) => (v && typeof v === "object" && SECRET_SIG in v ? "[secret]" : v);
    for (const r of registrations) {
      const text = JSON.stringify(r.inputs, unwrapSecrets);
      for (const f of [HOOK, SMTP, APP, Buffer.from(SMTP).toString("base64")]) expect(text.includes(f), `${r.name} leaks a secret`).toBe(false);
    }
    const up = byName("nixos-staging-secrets");
    expect(up.inputs.create).toBe("/var/lib/nixos-home-server/dispatch secrets");
    const stdin = up.inputs.stdin as Record<string, unknown>;
    expect(stdin[SECRET_SIG]).toBeTruthy();
    const lines = String(stdin.value).trim().split("\n").map((l) => l.split("\t"));
    expect(lines.map((l) => l[0])).toEqual(["app-token", "nhs-notify.conf", "nhs-notify-webhook-url", "nhs-notify-smtp-password"]);
    expect(lines[0].slice(1, 5)).toEqual(["root", "root", "0400", "nginx.service"]);
    expect(Buffer.from(lines[3][5], "base64").toString()).toBe(SMTP);
    expect(up.additionalSecretOutputs).toContain("stdin");
    expect(deps("nixos-staging-rebuild")).toContain("nixos-staging-secrets");
    expect(deps("nixos-staging-secrets")).toContain("nixos-staging-config-sync");
    expect(exported["nixos-staging"].lastEvent).toEqual({ event: "verified", result: "ok", generationFrom: 42, generationTo: 43, durations: { activate: 12 }, commit: "unknown" });
    expect(byName("nixos-prod-secrets").inputs.stdin).toBeDefined();
    expect(byName("nixos-staging-rebuild").inputs.create).toMatch(/ '--commit' '([0-9a-f]{40}(-dirty)?|unknown)'$/);
  });

  it("stops before registering any resource when config is invalid", async () => {
    await expect(runProgram([server("nixos-prod", { hostKey: "ssh-ed25519 REPLACE_ME" }), server("nixos-ghost")], {})).rejects.toThrow(
      /servers\[0\] "nixos-prod": hostKey: is a placeholder[\s\S]*servers\[1\] "nixos-ghost": name: no nixos\/hosts\/nixos-ghost/,
    );
  });
});

describe("blue-green", () => {
  const servers = [server("nixos-staging"), server("nixos-prod"), server("nixos-backup")];
  const pair = { proxy: "nixos-staging", blue: "nixos-prod", green: "nixos-backup" };
  const UNTOUCHED = ["create", "stdin", "triggers", "source", "remotePath"];
  /** The pair's release as the program computes it from this checkout. */
  async function currentRelease(): Promise<string> {
    const { collectRelease, packRelease } = await import("../../components/lib/release");
    const { pairRelease } = await import("../../components/lib/blueGreen");
    const tree = (name: string) => packRelease(collectRelease({ root: process.cwd(), server: name, deploy: { user: "deploy", authorizedKey: "" } })).hash;
    return pairRelease(tree("nixos-prod"), tree("nixos-backup"));
  }

  it("a deploy: only live is deployed, the serving colour keeps its inputs, and the switch waits for live's Verify", async () => {
    const { byName, deps } = await runProgram(servers, {}, {}, [], { config: { ...pair, live: "green" }, lastRun: { serving: "blue", release: "0".repeat(64) } });
    for (const step of ["config-sync-upload", "config-sync", "rebuild", "verify"]) {
      expect(byName(`nixos-prod-${step}`).ignoreChanges).toEqual(UNTOUCHED);
      expect(byName(`nixos-backup-${step}`).ignoreChanges).toEqual([]);
      expect(byName(`nixos-staging-${step}`).ignoreChanges).toEqual([]);
    }
    expect(byName("blue-green-switch-command").inputs.create).toBe("/var/lib/nixos-home-server/dispatch switch-upstream 'green' 'nixos-backup.home.arpa:80' '/'");
    expect(deps("blue-green-switch")).toEqual(expect.arrayContaining(["nixos-backup-verify", "nixos-staging-verify"]));
    expect(deps("blue-green-switch")).not.toContain("nixos-prod-verify");
  });

  it("a switch back (the release unchanged): neither colour is deployed, the switch targets live", async () => {
    const { byName } = await runProgram(servers, {}, {}, [], { config: { ...pair, live: "blue" }, lastRun: { serving: "green", release: await currentRelease() } });
    for (const step of ["config-sync-upload", "config-sync", "rebuild", "verify"]) {
      expect(byName(`nixos-prod-${step}`).ignoreChanges).toEqual(UNTOUCHED);
      expect(byName(`nixos-backup-${step}`).ignoreChanges).toEqual(UNTOUCHED);
    }
    expect(byName("blue-green-switch-command").inputs.triggers).toEqual(["blue", "nixos-prod.home.arpa:80", "/"]);
  });
});
