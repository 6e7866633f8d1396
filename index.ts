// The program: validate stack config, then one NixosServer per server, deployed in batches.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, PROJECT, ServerConfig, StackConfig, batches, bootstrapPasswordKey, fullConfigKey, parseStackConfig } from "./components/config";
import { BootstrapCredentials } from "./components/connection";
import { NixosServer } from "./components/nixosServer";

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

const stack = loadConfig();
const deployed: NixosServer[] = [];
let previousBatch: pulumi.Resource[] = [];
for (const batch of batches(stack.servers, stack.fleet.parallelism)) {
  const current = batch.map(
    (server) =>
      new NixosServer(server.name, {
        server,
        fleet: stack.fleet,
        credentials: credentials(server),
        root,
        secretValue: secretFromConfig,
        dependsOn: previousBatch.length > 0 ? previousBatch : undefined,
      }),
  );
  deployed.push(...current);
  // The next batch starts only after every server of this one passed Verify.
  previousBatch = current.map((s) => s.verify);
}

/** Per server: generation, store path, config hash, deploy time and verification report. */
export const servers = Object.fromEntries(
  deployed.map((s, i) => [
    stack.servers[i].name,
    {
      host: stack.servers[i].host,
      generation: s.generation,
      storePath: s.storePath,
      configHash: s.configHash,
      deployedAt: s.deployedAt,
      verification: s.verification,
      lastEvent: s.lastEvent,
      deployPublicKey: s.publicKey,
    },
  ]),
);
