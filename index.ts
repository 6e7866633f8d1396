// The program: validate stack config, then one NixosServer per server, at most fleet.parallelism at once.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, PROJECT, ServerConfig, StackConfig, bootstrapPasswordKey, fullConfigKey, parseStackConfig } from "./components/config";
import { BootstrapCredentials } from "./components/connection";
import { NixosServer } from "./components/nixosServer";
import { redactRpcPayloadsInDebugLog } from "./components/debugLog";
import { plainPromiseStacks } from "./components/promiseStacks";
import { ServerOutcome, inLanes, outcomeSummary } from "./components/lib/fleet";
import { Source, VerifiedRelease, promotionProblems, refusalMessage, sourceOf } from "./components/lib/promotion";
import { BlueGreenPlan, BlueGreenState, SwitchResult, pairRelease, planBlueGreen, upstreamAddress } from "./components/lib/blueGreen";
import { collectRelease, packRelease } from "./components/lib/release";
import { RELEASE_SOURCES, commitLabel, gitCommit, runGit } from "./components/lib/gitCommit";
import { TrafficSwitch } from "./components/trafficSwitch";

redactRpcPayloadsInDebugLog();
plainPromiseStacks();

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
      {
        servers: config.getObject<unknown>("servers"),
        fleet: config.getObject<unknown>("fleet"),
        promotion: config.getObject<unknown>("promotion"),
        blueGreen: config.getObject<unknown>("blueGreen"),
      },
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

/** A server's release tree without its deploy key: what a blue-green colour would get from this checkout. */
function treeHash(s: ServerConfig): string {
  return packRelease(collectRelease({ root, server: s.name, deploy: { user: s.user, authorizedKey: "" } })).hash;
}

/**
 * With `blueGreen`: which colour this run deploys and which it leaves alone, from the last run's
 * `blueGreen` output (read through a StackReference to this same stack). Rejects, before any server
 * is registered, a changed release aimed at the colour that serves.
 */
async function blueGreenGate(): Promise<{ plan: BlueGreenPlan; release: string; previous?: BlueGreenState } | null> {
  const b = stack.blueGreen;
  if (!b) return null;
  const byName = new Map(stack.servers.map((s) => [s.name, s]));
  const release = pairRelease(treeHash(byName.get(b.blue)!), treeHash(byName.get(b.green)!));
  const self = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
  const last = (await new pulumi.StackReference("blue-green-last-run", { name: self }).getOutputDetails("blueGreen")).value as
    | (Partial<BlueGreenState> & Record<string, unknown>)
    | undefined;
  const previous = last?.serving && last.release ? { serving: last.serving, release: last.release } : undefined;
  try {
    return { plan: planBlueGreen(b, release, previous), release, previous };
  } catch (err) {
    throw new pulumi.RunError((err as Error).message);
  }
}

const stack = loadConfig();
for (const w of stack.warnings) pulumi.log.warn(w);
// Every server's credentials, resolved (and warned about) once, before any server starts.
const credentialsOf = new Map(stack.servers.map((s) => [s.name, credentials(s)]));
const source = sourceOf(runGit(root, ["rev-parse", "HEAD"]), runGit(root, ["status", "--porcelain"]));
// The commit every server's release is packed from, for the hosts' events: asked of git once per run.
const releaseCommit = commitLabel(gitCommit(root, RELEASE_SOURCES));
const gate = promotionGate(source);
const blueGreenRun = gate.then(blueGreenGate);
const colourOf = (name: string) => (stack.blueGreen?.blue === name ? "blue" : stack.blueGreen?.green === name ? "green" : undefined);
const deployed = new Map<string, NixosServer>();
// No server depends on another: a lane takes the next server once its previous one settled.
const run = blueGreenRun.then((bg) => inLanes(stack.servers, stack.fleet.parallelism, (server) => {
  const colour = colourOf(server.name);
  const untouched = colour !== undefined && bg !== null && bg.plan.untouched.includes(colour);
  const s = new NixosServer(server.name, { server, fleet: stack.fleet, credentials: credentialsOf.get(server.name)!, root, commit: releaseCommit, secretValue: requiredSecret, untouched });
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

/**
 * Blue-green: after every server settled, the switch points the proxy at `live`. It depends on the
 * proxy's and that colour's Verify, so a colour that failed Verify never gets traffic.
 */
const switched = run.then(async () => {
  const bg = await blueGreenRun;
  const b = stack.blueGreen;
  if (!bg || !b) return null;
  const proxy = stack.servers.find((s) => s.name === b.proxy)!;
  const target = stack.servers.find((s) => s.name === b[bg.plan.target])!;
  const sw = new TrafficSwitch("blue-green-switch", {
    connection: deployed.get(proxy.name)!.deployConnection,
    proxyHost: proxy.host,
    colour: bg.plan.target,
    upstream: upstreamAddress(target.host, b.port),
    healthPath: b.healthPath,
  }, { dependsOn: [deployed.get(proxy.name)!.verify, deployed.get(target.name)!.verify] });
  await new Promise<void>((resolve) => sw.command.urn.apply(() => resolve()));
  const known = await (sw.result as unknown as { isKnown: Promise<boolean> }).isKnown;
  // What the proxy reported: this run's switch, or its last one when a selection (--only) left it out.
  const serving = known ? (await new Promise<SwitchResult>((resolve) => sw.result.apply(resolve))).colour : undefined;
  const ok = serving === bg.plan.target;
  if (!pulumi.runtime.isDryRun()) {
    pulumi.log.info(ok ? `blue-green: ${b.proxy} sends traffic to ${bg.plan.target} (${target.name}); ${bg.plan.untouched.length ? `not redeployed: ${bg.plan.untouched.join(", ")}` : "both colours deployed"}` : `blue-green: traffic NOT switched to ${bg.plan.target} (${target.name}); it stays where it was${serving ? ` (${serving})` : ""}: a failed Verify or switch (errors above), or a selection without the switch`);
  }
  return { ok, serving, bg, b };
});

/**
 * Blue-green: the colour the proxy serves and the release it was deployed with. The next run reads
 * it back; a run that did not move traffic to `live` (a failed Verify or switch, a selection that
 * left the switch out) keeps the last value.
 */
export const blueGreen = pulumi.output(
  switched.then((s) => {
    if (!s) return undefined;
    const current = s.ok ? { serving: s.bg.plan.target, release: s.bg.release } : s.bg.previous;
    return current ? { ...current, proxy: s.b.proxy, blue: s.b.blue, green: s.b.green } : undefined;
  }),
);

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
