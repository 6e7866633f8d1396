// Secrets: the server's secret files and notification settings, uploaded on stdin (a Pulumi secret,
// so state keeps it encrypted) to /var/lib/nixos-home-server/secrets/ before the rebuild.
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import { FleetConfig, ServerConfig, effectiveNotify } from "./config";
import { NotifySettings, SecretFile, notifyFiles, renderSecrets, secretsStdin } from "./lib/secretFiles";

export interface SecretsArgs {
  connection: types.input.remote.ConnectionArgs;
  /** Every file the host should have; an empty list removes what an earlier run left. */
  files: pulumi.Output<SecretFile[]>;
}

export function createSecrets(name: string, args: SecretsArgs, opts: pulumi.CustomResourceOptions): remote.Command {
  return new remote.Command(
    name,
    {
      connection: args.connection,
      create: renderSecrets(),
      // Secret: the engine encrypts it in state; only names reach logs and the result line.
      stdin: pulumi.secret(args.files.apply(secretsStdin)),
      addPreviousOutputInEnv: false,
    },
    { ...opts, additionalSecretOutputs: ["stdin"] },
  );
}

/** The files a server needs (its secrets + notify settings); none is an empty list, never undefined. */
export function secretFilesOf(
  s: ServerConfig,
  fleet: FleetConfig,
  secretValue: (key: string) => pulumi.Output<string>,
): pulumi.Output<SecretFile[]> {
  const notify = effectiveNotify(s, fleet);
  // A server with none still gets the (empty) list: that is how its last secret leaves the host.
  if (s.secrets.length === 0 && !notify) return pulumi.output([]);
  const key = (ref: unknown) => (ref as { secretKey: string }).secretKey;
  const own = s.secrets.map((f) =>
    secretValue(f.secretKey).apply((value): SecretFile => ({ name: f.name, owner: f.owner, group: f.group, mode: f.mode, restartUnits: f.restartUnits, value })),
  );
  const notifySettings: pulumi.Output<SecretFile[]> = notify
    ? pulumi
        .all([
          notify.webhook ? secretValue(key(notify.webhook.url)) : pulumi.output(""),
          notify.email?.password !== undefined ? secretValue(key(notify.email.password)) : pulumi.output(""),
        ])
        .apply(([url, password]) => {
          const n: NotifySettings = { retrySeconds: notify.retrySeconds };
          if (notify.webhook) n.webhook = { url, events: notify.webhook.events };
          if (notify.email) {
            const { password: _ref, ...email } = notify.email;
            n.email = { ...email, password: notify.email.password !== undefined ? password : undefined };
          }
          return notifyFiles(n);
        })
    : pulumi.output([]);
  return pulumi.all([pulumi.all(own), notifySettings]).apply(([a, b]) => [...a, ...b]);
}
