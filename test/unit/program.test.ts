// The whole program under Pulumi mocks: graph shape, dependencies, batching and secrets.
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
  return "nhs-result status=ok";
}

async function runProgram(servers: unknown[], fleet: unknown, secrets: Record<string, string> = {}) {
  const registrations: Registration[] = [];
  pulumi.runtime.setAllConfig(
    {
      "nixos-home-server:servers": JSON.stringify(servers),
      "nixos-home-server:fleet": JSON.stringify(fleet),
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
        if (args.type.startsWith("nixos-home-server:index:")) return { id: undefined, state: {} };
        throw new Error(`Mock not implemented: ${args.type}`);
      },
      call(args) {
        throw new Error(`Mock not implemented: ${args.token}`);
      },
    },
    "nixos-home-server",
    "unit",
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
    });
    original(req, cb);
  };
  const program = await import("../../index");
  const exported = await new Promise<Record<string, any>>((resolve) => pulumi.output(program.servers).apply(resolve));
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

beforeEach(() => vi.resetModules());
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
        "command:remote:Command nixos-staging-key-authorization-install",
        "command:remote:Command nixos-staging-key-authorization-login-test",
        "command:remote:CopyToRemote nixos-staging-config-sync-upload",
        "command:remote:Command nixos-staging-config-sync",
        "pulumi-nodejs:dynamic/nixos-home-server:HostProbe nixos-staging-probe",
        "command:remote:Command nixos-staging-rebuild",
        "command:remote:Command nixos-staging-verify",
      ]),
    );
    expect(registrations.filter((r) => r.type !== "pulumi:pulumi:Stack")).toHaveLength(11);
    for (const child of ["nixos-staging-deploy-key", "nixos-staging-key-authorization", "nixos-staging-config-sync", "nixos-staging-rebuild", "nixos-staging-verify"]) {
      expect(byName(child).parent).toMatch(/NixosServer::nixos-staging$/);
    }
    expect(deps("nixos-staging-key-authorization-login-test")).toContain("nixos-staging-key-authorization-install");
    expect(deps("nixos-staging-config-sync-upload")).toContain("nixos-staging-key-authorization-login-test");
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
    expect(out.deployPublicKey).toBe(openSshKeyPairFromSeed(seedFor("nixos-staging-deploy-key-seed"), "nhs-deploy@nixos-staging").publicKey);

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
    expect(sync.create).toContain(`nhs-sync '${out.configHash}' '3'`);
    expect(byName("nixos-staging-rebuild").inputs.create).toContain(`'--release' '/var/lib/nixos-home-server/releases/${out.configHash}'`);
    expect(byName("nixos-staging-verify").inputs.logging).toBe("stdout");
    expect(byName("nixos-staging-verify").additionalSecretOutputs).toContain("stderr");

    for (const r of registrations.filter((x) => x.type === "command:remote:Command")) {
      expect(r.inputs.delete, `${r.name} must not delete anything`).toBeUndefined();
      expect(r.inputs.addPreviousOutputInEnv).toBe(false);
    }
  });
});

describe("three servers", () => {
  const three = () => [
    server("nixos-staging", { bootstrap: { password: { secretKey: "pw" } } }),
    server("nixos-prod"),
    server("nixos-backup", { port: 2222 }),
  ];

  it("parallelism 2 deploys two servers, then the third after both Verify", async () => {
    const { deps } = await runProgram(three(), { parallelism: 2 }, { pw: PASSWORD });
    const firstBatchVerify = ["nixos-staging-verify", "nixos-prod-verify"];
    for (const step of ["nixos-backup-key-authorization-install", "nixos-backup-config-sync"]) {
      expect(deps(step)).toEqual(expect.arrayContaining(firstBatchVerify));
    }
    expect(deps("nixos-prod-config-sync")).not.toContain("nixos-staging-verify");
    expect(deps("nixos-staging-key-authorization-install")).toEqual(["nixos-staging-deploy-key-seed"]);
  });

  it("parallelism 1 chains every server on the previous one", async () => {
    const { deps } = await runProgram(three(), { parallelism: 1 }, { pw: PASSWORD });
    expect(deps("nixos-prod-config-sync")).toContain("nixos-staging-verify");
    expect(deps("nixos-backup-config-sync")).toContain("nixos-prod-verify");
    expect(deps("nixos-backup-config-sync")).not.toContain("nixos-staging-verify");
  });

  it("keeps secrets secret and out of every command text", async () => {
    const { registrations, byName } = await runProgram(three(), { parallelism: 3 }, { pw: PASSWORD });
    const privateKeys = ["nixos-staging", "nixos-prod", "nixos-backup"].map(
      (n) => openSshKeyPairFromSeed(seedFor(`${n}-deploy-key-seed`), `nhs-deploy@${n}`).privateKey,
    );
    const forbidden = [PASSWORD, ...privateKeys, ...privateKeys.map((k) => k.split("\n")[1])];
    // Secret-wrapped values are encrypted in state; everything outside them must be free of secrets.
    const unwrapSecrets = (_k: string, v: unknown) => (v && typeof v === "object" && SECRET_SIG in v ? "[secret]" : v);
    for (const r of registrations) {
      const { connection } = r.inputs;
      const text = JSON.stringify(r.inputs, unwrapSecrets);
      for (const f of forbidden) expect(text.includes(f), `${r.name} leaks a secret`).toBe(false);
      if (r.type.startsWith("command:remote:")) {
        expect(connection && (connection as Record<string, unknown>)[SECRET_SIG], `${r.name}: connection must be secret`).toBeTruthy();
      }
    }
    const install = byName("nixos-staging-key-authorization-install").inputs.connection as { value: Record<string, unknown> };
    expect(JSON.stringify(install)).toContain(PASSWORD); // it is there, but only inside the secret connection
    expect(install.value.hostKey).toBe(hostKeyFor("nixos-staging"));
    const sync = byName("nixos-backup-config-sync").inputs.connection as { value: Record<string, unknown> };
    expect(sync.value.port).toBe(2222);
    expect(JSON.stringify(sync)).toContain(privateKeys[2].split("\n")[1]);
    expect(byName("nixos-staging-deploy-key-seed").additionalSecretOutputs).toEqual(expect.arrayContaining(["base64", "hex"]));
  });

  it("stops before registering any resource when config is invalid", async () => {
    await expect(runProgram([server("nixos-prod", { hostKey: "ssh-ed25519 REPLACE_ME" }), server("nixos-ghost")], {})).rejects.toThrow(
      /servers\[0\] "nixos-prod": hostKey: is a placeholder[\s\S]*servers\[1\] "nixos-ghost": name: no nixos\/hosts\/nixos-ghost/,
    );
  });
});
