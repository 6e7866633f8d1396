// Files the host keeps outside the release and the Nix store, in /var/lib/nixos-home-server/secrets/:
// the user's secrets and the notification settings. Pure functions; the values travel on stdin only.
import { renderVerb } from "./remoteCommand";

export interface SecretFile {
  /** File name under secrets/; names starting with "nhs-" are this tool's own. */
  name: string;
  owner: string;
  group: string;
  /** Octal, four digits, e.g. "0400". */
  mode: string;
  /** Units restarted when this file's value changes. */
  restartUnits: readonly string[];
  value: string;
}

/** secrets.sh's stdin: one `name owner group mode units|- base64` line (tab-separated) per file. */
export function secretsStdin(files: readonly SecretFile[]): string {
  return files
    .map((f) => {
      for (const [what, v] of [["name", f.name], ["owner", f.owner], ["group", f.group], ["mode", f.mode], ...f.restartUnits.map((u) => ["unit", u])]) {
        if (/[\s,]/.test(v)) throw new Error(`secret ${JSON.stringify(f.name)}: ${what} must not contain spaces, tabs, commas or newlines`);
      }
      // "-" for no units: read splits on tabs as whitespace, so an empty field would vanish.
      return [f.name, f.owner, f.group, f.mode, f.restartUnits.join(",") || "-", Buffer.from(f.value, "utf8").toString("base64")].join("\t");
    })
    .map((l) => `${l}\n`)
    .join("");
}

/**
 * The dispatcher's `secrets` verb: the current release's secrets.sh (ConfigSync has just made the
 * new release current), no arguments, everything on stdin. The text names no release, so only a
 * change of the values re-runs it.
 */
export function renderSecrets(): string {
  return renderVerb("secrets");
}

export const NOTIFY_KINDS = ["success", "failure", "rollback", "watchdog"] as const;
export type NotifyKind = (typeof NOTIFY_KINDS)[number];

/** The notification settings of one server, with the secret values resolved. */
export interface NotifySettings {
  webhook?: { url: string; events: readonly NotifyKind[] };
  email?: {
    smtpUrl: string;
    from: string;
    to: readonly string[];
    user?: string;
    password?: string;
    caCertificate?: string;
    events: readonly NotifyKind[];
  };
  retrySeconds: number;
}

const rootOnly = (name: string, value: string): SecretFile => ({ name, owner: "root", group: "root", mode: "0400", restartUnits: [], value });

/** The files notify.sh reads: nhs-notify.conf (key=value), the webhook URL, the SMTP password, a CA. */
export function notifyFiles(n: NotifySettings): SecretFile[] {
  const conf = [
    `webhook_events=${n.webhook ? n.webhook.events.join(",") : ""}`,
    `smtp_events=${n.email ? n.email.events.join(",") : ""}`,
    `smtp_url=${n.email?.smtpUrl ?? ""}`,
    `smtp_from=${n.email?.from ?? ""}`,
    `smtp_to=${n.email ? n.email.to.join(",") : ""}`,
    `smtp_user=${n.email?.user ?? ""}`,
    `retry_seconds=${n.retrySeconds}`,
  ];
  for (const l of conf) if (/[\r\n]/.test(l)) throw new Error(`notify setting ${l.split("=")[0]} must be one line`);
  const files = [rootOnly("nhs-notify.conf", `${conf.join("\n")}\n`)];
  if (n.webhook) files.push(rootOnly("nhs-notify-webhook-url", n.webhook.url));
  if (n.email?.password !== undefined) files.push(rootOnly("nhs-notify-smtp-password", n.email.password));
  if (n.email?.caCertificate) files.push(rootOnly("nhs-notify-ca.pem", n.email.caCertificate));
  return files;
}
