// The program: validate stack config, then one NixosServer per server, at most fleet.parallelism at once.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, PROJECT, ServerConfig, StackConfig, bootstrapPasswordKey, fullConfigKey, parseStackConfig } from "./components/config";
import { BootstrapCredentials } from "./components/connection";
import { NixosServer } from "./components/nixosServer";
import { redactRpcPayloadsInDebugLog } from "./components/debugLog";
import { ServerOutcome, inLanes, outcomeSummary } from "./components/lib/fleet";
import { Source, VerifiedRelease, promotionProblems, refusalMessage, sourceOf } from "./components/lib/promotion";

redactRpcPayloadsInDebugLog();

const root = __dirname;

/** nixos/hosts/<name>/ directories with a default.nix: the flake's nixosConfigurations. */
function hostDirectories(): string[] {
  const dir = path.join(root, "nixos", "hosts");
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, "default.nix")));
}

/** Each host directory's .nix files (repo-relative path -> text), for the placeholder-hardware check. */
function hostNixFiles(names: string[]): Record<string, Record<string, string>> {
  return Object.fromEntries(
    names.map((name) => {
      const dir = path.posix.join("nixos", "hosts", name);
      const files = fs.readdirSync(path.join(root, dir)).filter((f) => f.endsWith(".nix"));
      return [name, Object.fromEntries(files.map((f) => [path.posix.join(dir, f), fs.readFileSync(path.join(root, dir, f), "utf8")]))];
    }),
  );
}

function loadConfig(): StackConfig {
  const config = new pulumi.Config(PROJECT);
  const hosts = hostDirectories();
  try {
    return parseStackConfig(
      { servers: config.getObject<unknown>("servers"), fleet: config.getObject<unknown>("fleet"), promotion: config.getObject<unknown>("promotion") },
      {
        hostDirectories: hosts,
        configKeys: new Set(Object.keys(pulumi.runtime.allConfig())),
        hostNixFiles: hostNixFiles(hosts),
      },
    );
  } catch (err) {
    // RunError prints the message without a stack trace: the message is the whole story.
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
}

/** A secret config value, or undefined when it is not set (bootstrap secrets are optional later on). */
function configOf(key: string): [pulumi.Config, string] {
  const full = fullConfigKey(key);
  const colon = full.indexOf(":");
  return [new pulumi.Config(full.slice(0, colon)), full.slice(colon + 1)];
}

/** A bootstrap secret: may be absent once the deploy key is in (see credentials). */
function secretFromConfig(key: string): pulumi.Output<string> | undefined {
  const [config, name] = configOf(key);
  return config.getSecret(name);
}

/** A secret the hosts need on every run (secrets, notification credentials): config checked it exists. */
function requiredSecret(key: string): pulumi.Output<string> {
  const [config, name] = configOf(key);
  return config.requireSecret(name);
}

/**
 * Bootstrap credentials are used only by the first key install on a host (KeyAuthorization): a later
 * run, CI's for example, may lack them; a missing key file is a warning, not an error.
 */
function credentials(s: ServerConfig): BootstrapCredentials {
  const b = s.bootstrap;
  if (b.agent) return { agentSocketPath: b.agent.socket };
  const passwordKey = bootstrapPasswordKey(b);
  if (passwordKey) return { password: secretFromConfig(passwordKey) };
  if (b.keyFile) {
    const file = b.keyFile.path.replace(/^~(?=\/)/, os.homedir());
    if (!fs.existsSync(file)) {
      pulumi.log.warn(`servers "${s.name}": bootstrap.keyFile.path: ${file} does not exist on this machine; fine once this stack's deploy key is on the host, but a first install fails without it`);
      return {};
    }
    return {
      privateKey: pulumi.secret(fs.readFileSync(file, "utf8")),
      privateKeyPassword: b.keyFile.passphrase ? secretFromConfig(b.keyFile.passphrase.secretKey) : undefined,
    };
  }
  throw new pulumi.RunError(`servers "${s.name}": bootstrap: no credentials`);
}

/**
 * Settles when the engine has answered the server's Verify registration: done, failed or skipped
 * (the SDK asks for result reporting, so with --continue-on-error a failure resolves the URN too).
 */
async function settled(s: NixosServer, name: string): Promise<ServerOutcome> {
  await new Promise<void>((resolve) => s.verify.urn.apply(() => resolve()));
  // A failed or skipped resource's outputs stay unknown; isKnown is the SDK's own flag for that.
  const known = await (s.verification as unknown as { isKnown: Promise<boolean> }).isKnown;
  if (!known) return { name, verified: false };
  return { name, verified: true, report: await new Promise<string>((resolve) => s.verification.apply(resolve)) };
}

function git(args: string[]): string | null {
  try {
    return execFileSync("git", ["-C", root, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return null;
  }
}

/**
 * With `promotion.from`, resolves only if that stack verified this clean commit, or with an
 * override; otherwise rejects before any server is registered, so no host is touched.
 */
async function promotionGate(source: Source): Promise<{ from: string; problems: string[]; override: string | null } | null> {
  const p = stack.promotion;
  if (!p) return null;
  const name = p.from.includes("/") ? p.from : `${pulumi.getOrganization()}/${pulumi.getProject()}/${p.from}`;
  const upstream = (await new pulumi.StackReference(`promotion-from-${p.from.replace(/\//g, "-")}`, { name }).getOutputDetails("release")).value as VerifiedRelease | undefined;
  const problems = promotionProblems(source, p.from, upstream);
  if (problems.length > 0 && !p.override) throw new pulumi.RunError(refusalMessage(p.from, problems));
  if (problems.length > 0) pulumi.log.warn(`promotion from "${p.from}" overridden ("${p.override}") despite:\n  - ${problems.join("\n  - ")}`);
  return { from: p.from, problems, override: p.override ?? null };
}

const stack = loadConfig();
for (const w of stack.warnings) pulumi.log.warn(w);
// Every server's credentials, resolved (and warned about) once, before any server starts.
const credentialsOf = new Map(stack.servers.map((s) => [s.name, credentials(s)]));
const source = sourceOf(git(["rev-parse", "HEAD"]), git(["status", "--porcelain"]));
const gate = promotionGate(source);
const deployed = new Map<string, NixosServer>();
// No server depends on another: a lane takes the next server once its previous one settled.
const run = gate.then(() => inLanes(stack.servers, stack.fleet.parallelism, (server) => {
  const s = new NixosServer(server.name, { server, fleet: stack.fleet, credentials: credentialsOf.get(server.name)!, root, secretValue: requiredSecret });
  deployed.set(server.name, s);
  return settled(s, server.name);
})).then((results) => {
  const outcomes = results.map((r, i): ServerOutcome => (r.status === "fulfilled" ? r.value : { name: stack.servers[i].name, verified: false }));
  if (!pulumi.runtime.isDryRun()) pulumi.log.info(outcomeSummary(outcomes));
  // A lane that threw (a bug, not a failed deploy) still fails the run, after the others ran.
  const thrown = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (thrown) throw thrown.reason;
  return outcomes;
});

/** The source this run deployed, and whether every server passed Verify: what `promotion.from` reads. */
export const release = pulumi.output(run.then((outcomes) => ({ ...source, verified: outcomes.every((o) => o.verified) })));

/** With `promotion.from`: the stack promoted from, and the override and what it overrode, if any. */
export const promotion = pulumi.output(gate);

/** Per server: generation, store path, config hash, deploy time and verification report. */
export const servers = pulumi.output(
  run.then(() =>
    Object.fromEntries(
      stack.servers.map((server) => {
        const s = deployed.get(server.name)!;
        return [
          server.name,
          {
            host: server.host,
            generation: s.generation,
            storePath: s.storePath,
            configHash: s.configHash,
            deployedAt: s.deployedAt,
            verification: s.verification,
            lastEvent: s.lastEvent,
            deployPublicKey: s.publicKey,
          },
        ];
      }),
    ),
  ),
);
