// The program: validate stack config, then one NixosServer per server, at most fleet.parallelism at once.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, PROJECT, ServerConfig, StackConfig, bootstrapPasswordKey, fullConfigKey, parseStackConfig } from "./components/config";
import { BootstrapCredentials } from "./components/connection";
import { NixosServer } from "./components/nixosServer";
import { ServerOutcome, inLanes, outcomeSummary } from "./components/lib/fleet";

const root = __dirname;

/** nixos/hosts/<name>/ directories with a default.nix: the flake's nixosConfigurations. */
function hostDirectories(): string[] {
  const dir = path.join(root, "nixos", "hosts");
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, "default.nix")));
}

function loadConfig(): StackConfig {
  const config = new pulumi.Config(PROJECT);
  try {
    return parseStackConfig(
      { servers: config.getObject<unknown>("servers"), fleet: config.getObject<unknown>("fleet") },
      { hostDirectories: hostDirectories(), configKeys: new Set(Object.keys(pulumi.runtime.allConfig())) },
    );
  } catch (err) {
    // RunError prints the message without a stack trace: the message is the whole story.
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
}

function secretFromConfig(key: string): pulumi.Output<string> {
  const full = fullConfigKey(key);
  const colon = full.indexOf(":");
  return new pulumi.Config(full.slice(0, colon)).requireSecret(full.slice(colon + 1));
}

function credentials(s: ServerConfig): BootstrapCredentials {
  const b = s.bootstrap;
  if (b.agent) return { agentSocketPath: b.agent.socket };
  const passwordKey = bootstrapPasswordKey(b);
  if (passwordKey) return { password: secretFromConfig(passwordKey) };
  if (b.keyFile) {
    const file = b.keyFile.path.replace(/^~(?=\/)/, os.homedir());
    if (!fs.existsSync(file)) {
      throw new pulumi.RunError(`servers "${s.name}": bootstrap.keyFile.path: ${file} does not exist on this machine`);
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

const stack = loadConfig();
const deployed = new Map<string, NixosServer>();
// No server depends on another: a lane takes the next server once its previous one settled.
const run = inLanes(stack.servers, stack.fleet.parallelism, (server) => {
  const s = new NixosServer(server.name, { server, fleet: stack.fleet, credentials: credentials(server), root });
  deployed.set(server.name, s);
  return settled(s, server.name);
}).then((results) => {
  if (pulumi.runtime.isDryRun()) return;
  const outcomes = results.map((r, i): ServerOutcome => (r.status === "fulfilled" ? r.value : { name: stack.servers[i].name, verified: false }));
  pulumi.log.info(outcomeSummary(outcomes));
});

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
            deployPublicKey: s.publicKey,
          },
        ];
      }),
    ),
  ),
);
