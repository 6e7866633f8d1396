// Shared test fixtures: valid host keys and server entries.
import { ConfigError, parseStackConfig } from "../../components/config";
import { openSshKeyPairFromSeed } from "../../components/lib/sshKey";

/** A real ed25519 public key line, different per label. */
export function hostKeyFor(label: string): string {
  const seed = Buffer.alloc(32, 0);
  Buffer.from(label).copy(seed);
  return openSshKeyPairFromSeed(seed, "").publicKey;
}

export function server(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    host: `${name}.home.arpa`,
    user: "deploy",
    hostKey: hostKeyFor(name),
    bootstrap: { agent: {} },
    ...overrides,
  };
}

export const HOSTS = ["nixos-staging", "nixos-prod", "nixos-backup"];

/** The ConfigError problems parseStackConfig reports for `input` (none if it parses). */
export function configProblems(input: Parameters<typeof parseStackConfig>[0], ctx: Parameters<typeof parseStackConfig>[1]): string[] {
  try {
    parseStackConfig(input, ctx);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}
