// SSH connection settings for the two identities: bootstrap credentials and the deploy key.
import * as pulumi from "@pulumi/pulumi";
import type { types } from "@pulumi/command";

/** How to reach a server; every connection pins its host key. */
export interface Endpoint {
  host: string;
  port: number;
  user: string;
  /** authorized_keys-format host key; without it pulumi-command checks no host key at all. */
  hostKey: string;
  perDialTimeoutSeconds: number;
  dialErrorLimit: number;
}

/** Bootstrap credentials, already resolved from config; secrets arrive as secret Outputs. */
export interface BootstrapCredentials {
  agentSocketPath?: string;
  privateKey?: pulumi.Output<string>;
  privateKeyPassword?: pulumi.Output<string>;
  password?: pulumi.Output<string>;
}

function base(e: Endpoint): types.input.remote.ConnectionArgs {
  return {
    host: e.host,
    port: e.port,
    user: e.user,
    hostKey: e.hostKey,
    perDialTimeout: e.perDialTimeoutSeconds,
    dialErrorLimit: e.dialErrorLimit,
  };
}

export function bootstrapConnection(e: Endpoint, c: BootstrapCredentials): types.input.remote.ConnectionArgs {
  return {
    ...base(e),
    ...(c.agentSocketPath !== undefined ? { agentSocketPath: c.agentSocketPath } : {}),
    ...(c.privateKey !== undefined ? { privateKey: pulumi.secret(c.privateKey) } : {}),
    ...(c.privateKeyPassword !== undefined ? { privateKeyPassword: pulumi.secret(c.privateKeyPassword) } : {}),
    ...(c.password !== undefined ? { password: pulumi.secret(c.password) } : {}),
  };
}

/**
 * The deploy key connection: through the agent socket this run serves the key on (DeployKey), so
 * the connection, kept in every command's inputs and outputs, holds no secret at all.
 */
export function deployConnection(e: Endpoint, agentSocketPath: pulumi.Output<string>): types.input.remote.ConnectionArgs {
  return { ...base(e), agentSocketPath };
}
