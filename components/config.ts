// Stack configuration: schema, safe defaults, and validation that reports every problem at once.
import { isIP } from "net";
import { z } from "zod";
import { MODES, Mode } from "./mode";
import { placeholderHardwareFiles, placeholderHardwareProblem } from "./lib/hardware";
import { SHELL_METACHARACTERS } from "./lib/shell";
import { ed25519KeyProblem } from "./lib/sshKey";
import { NOTIFY_KINDS } from "./lib/secretFiles";

export const PROJECT = "nixos-home-server";

/** A reference to a secret stack config key; secrets are never written inline in the server object. */
const secretRef = z.strictObject({
  secretKey: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]*(:[A-Za-z][A-Za-z0-9_.-]*)?$/, {
    error: "must be a config key name such as \"nixosProdPassword\"",
  }),
});

const inlineSecretHint = (what: string) =>
  `must be { secretKey: "<config key>" }; never put the ${what} inline, store it with \`pulumi config set --secret <key> ...\``;

const bootstrapSchema = z
  .strictObject({
    /** Use an SSH agent; `socket` defaults to $SSH_AUTH_SOCK. */
    agent: z.strictObject({ socket: z.string().startsWith("/", { error: "must be an absolute path" }).optional() }).optional(),
    /** Read a private key file on the deploying machine. */
    keyFile: z
      .strictObject({
        path: z.string().min(1),
        passphrase: secretRef.optional(),
      })
      .optional(),
    /** A password kept as a secret config key. */
    password: z.any().optional(),
  })
  .superRefine((b, ctx) => {
    const given = (["agent", "keyFile", "password"] as const).filter((k) => b[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message: `give exactly one of agent, keyFile or password (got ${given.length === 0 ? "none" : given.join(", ")})`,
      });
    }
    if (b.password !== undefined) {
      const r = secretRef.safeParse(b.password);
      if (!r.success) ctx.addIssue({ code: "custom", path: ["password"], message: inlineSecretHint("password") });
    }
  });

const httpCheck = z.strictObject({
  url: z.string().regex(/^https?:\/\/[^\s'"`$\\]+$/, { error: "must be an http:// or https:// URL without spaces or quotes" }),
  status: z.number().int().min(100).max(599).default(200),
});

const healthSchema = z.strictObject({
  /** systemd units that must be active. */
  units: z
    .array(z.string().regex(/^[A-Za-z0-9@_.:-]+\.(service|socket|target|timer|mount|path)$/, { error: "must be a systemd unit name such as nginx.service" }))
    .default([]),
  http: z.array(httpCheck).default([]),
  /** Shell commands run on the host with `sh -c`; exit 0 = healthy. */
  commands: z.array(z.string().min(1).refine((c) => !/[\r\n]/.test(c), { error: "must be one line" })).default([]),
  /** `fail`: new `journalctl -p err` lines since the switch fail the deploy; `ignore`: reported only. */
  journal: z.enum(["fail", "ignore"]).default("fail"),
  retries: z.number().int().min(1).max(100).default(5),
  intervalSeconds: z.number().int().min(1).max(3600).default(5),
  timeoutSeconds: z.number().int().min(1).max(3600).default(10),
  minFreeMb: z.number().int().min(0).default(1024),
});

const notifyKinds = z.array(z.enum(NOTIFY_KINDS, { error: `must be one of ${NOTIFY_KINDS.join(", ")}` }));
const EMAIL = /^[^\s@<>,"'\\]+@[A-Za-z0-9.-]+$/;

/** Notifications the host sends itself (components/host/notify.sh); credentials are secret references. */
const notifySchema = z.strictObject({
  /** Slack-compatible webhook: `{"text": ..., "event": {...}}`. */
  webhook: z
    .strictObject({
      url: z.any(),
      events: notifyKinds.default([...NOTIFY_KINDS]),
    })
    .superRefine((w, ctx) => {
      if (!secretRef.safeParse(w.url).success) ctx.addIssue({ code: "custom", path: ["url"], message: inlineSecretHint("webhook URL") });
    })
    .optional(),
  /** Email over SMTP; smtp:// always upgrades with STARTTLS (required), smtps:// is TLS from the start. */
  email: z
    .strictObject({
      smtpUrl: z.string().regex(/^smtps?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/, { error: "must be smtp://host[:port] (STARTTLS) or smtps://host[:port]" }),
      from: z.string().regex(EMAIL, { error: "must be an email address" }),
      to: z.array(z.string().regex(EMAIL, { error: "must be an email address" })).min(1),
      user: z.string().regex(/^[^\s:"\\]+$/, { error: "must be a user name without spaces, ':' or quotes" }).optional(),
      password: z.any().optional(),
      /** PEM of a CA to trust for the SMTP server (a home relay with its own CA). */
      caCertificate: z.string().includes("-----BEGIN CERTIFICATE-----", { error: "must be a PEM certificate" }).optional(),
      events: notifyKinds.default(["failure", "rollback", "watchdog"]),
    })
    .superRefine((e, ctx) => {
      if (e.password !== undefined && !secretRef.safeParse(e.password).success) ctx.addIssue({ code: "custom", path: ["password"], message: inlineSecretHint("SMTP password") });
    })
    .optional(),
  /** Seconds between delivery retries of a spooled notification. */
  retrySeconds: z.number().int().min(1).max(86400).default(300),
});
/** A server's override: any key of fleet.notify, nothing defaulted (absent keys come from the fleet). */
const notifyOverrideSchema = notifySchema.extend({ retrySeconds: z.number().int().min(1).max(86400).optional() }).partial();

/** A file the host keeps in /var/lib/nixos-home-server/secrets/<name>, from a secret config key. */
const secretFileSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/, { error: "must be letters, digits, '.', '_' or '-'" })
    .refine((n) => !n.startsWith("nhs-"), { error: "names starting with \"nhs-\" are reserved for nixos-home-server's own files" }),
  secretKey: secretRef.shape.secretKey,
  owner: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "must be a user name" }).default("root"),
  group: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "must be a group name" }).default("root"),
  mode: z.string().regex(/^0?[0-7]{3}$/, { error: "must be an octal mode such as \"0400\"" }).default("0400").transform((m) => m.padStart(4, "0")),
  restartUnits: z
    .array(z.string().regex(/^[A-Za-z0-9@_.:-]+\.(service|socket|target|timer|mount|path)$/, { error: "must be a systemd unit name such as nginx.service" }))
    .default([]),
});

const SAFE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const SAFE_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const SAFE_HOST = /^([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$|^[0-9A-Fa-f:]+$/;

function metacharMessage(value: string, what: string): string {
  const bad = [...new Set([...value].filter((c) => SHELL_METACHARACTERS.test(c)))].map((c) => JSON.stringify(c)).join(" ");
  return `${JSON.stringify(value)} contains shell metacharacters (${bad}); use a plain ${what}`;
}

const serverSchema = z
  .strictObject({
    /** The nixosConfigurations attribute and nixos/hosts/<name>/ directory. */
    name: z.string().regex(SAFE_NAME, { error: "must be lowercase letters, digits and '-', starting with a letter (it is a flake attribute and a hostname)" }),
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().min(1),
    /** The host's ed25519 key, authorized_keys format. */
    hostKey: z.string(),
    bootstrap: bootstrapSchema,
    mode: z.enum(MODES as [Mode, ...Mode[]], { error: `must be one of ${MODES.join(", ")}` }).default("switch"),
    tags: z.array(z.string().regex(/^[A-Za-z0-9_.-]+$/, { error: "must be letters, digits, '_', '.', '-'" })).default([]),
    health: healthSchema.prefault({}),
    /** Seconds the host waits for Verify's confirmation before the watchdog rolls back by itself. */
    confirmTimeoutSeconds: z.number().int().min(30).max(86400).default(600),
    /** Seconds nixos-rebuild (build and switch) may run on the host before systemd stops it and the host rolls back. */
    activationTimeoutSeconds: z.number().int().min(30).max(86400).default(1800),
    /** Seconds per SSH dial attempt and the number of failed dials tolerated. */
    perDialTimeoutSeconds: z.number().int().min(1).max(600).default(15),
    dialErrorLimit: z.number().int().min(-1).max(1000).default(10),
    /** Bump to rotate the deploy key. */
    deployKeyRotation: z.number().int().min(1).default(1),
    /** Secret files for services (passwordFile-style options read them by path). */
    secrets: z
      .array(secretFileSchema)
      .default([])
      .superRefine((list, ctx) => {
        list.forEach((f, i) => {
          if (list.findIndex((g) => g.name === f.name) !== i) ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate secret name "${f.name}"` });
        });
      }),
    /** Overrides fleet.notify for this server, key by key (webhook, email, retrySeconds). */
    notify: notifyOverrideSchema.optional(),
  })
  .superRefine((s, ctx) => {
    if (SHELL_METACHARACTERS.test(s.host)) ctx.addIssue({ code: "custom", path: ["host"], message: metacharMessage(s.host, "hostname or IP address") });
    else if (!SAFE_HOST.test(s.host)) ctx.addIssue({ code: "custom", path: ["host"], message: `${JSON.stringify(s.host)} is not a hostname or IP address` });
    if (SHELL_METACHARACTERS.test(s.user)) ctx.addIssue({ code: "custom", path: ["user"], message: metacharMessage(s.user, "user name") });
    else if (!SAFE_USER.test(s.user)) ctx.addIssue({ code: "custom", path: ["user"], message: `${JSON.stringify(s.user)} is not a valid user name (lowercase letters, digits, '_', '-')` });

    const keyscan = `run \`ssh-keyscan -t ed25519 -p ${s.port} ${SAFE_HOST.test(s.host) ? s.host : "<host>"}\` from a trusted network and paste the "ssh-ed25519 AAAA..." part`;
    // A valid key is never a placeholder: random base64 can spell "xxx" or "todo".
    const problem = ed25519KeyProblem(s.hostKey);
    if (problem) {
      const placeholder = /REPLACE|CHANGE|TODO|XXX|<.*>|\.\.\./i.test(s.hostKey);
      ctx.addIssue({ code: "custom", path: ["hostKey"], message: `${placeholder ? "is a placeholder, not a host key" : problem}; ${keyscan}` });
    }

    const worst = worstCaseVerifySeconds(s.health);
    if (s.confirmTimeoutSeconds <= worst) {
      ctx.addIssue({
        code: "custom",
        path: ["confirmTimeoutSeconds"],
        message: `${s.confirmTimeoutSeconds}s is not larger than the worst-case verify time of ${worst}s (health: ${checkCount(s.health)} checks × ${s.health.timeoutSeconds}s timeout × ${s.health.retries} retries + intervals); the watchdog would roll back a healthy deploy. Raise confirmTimeoutSeconds above ${worst} or lower health.retries/timeoutSeconds`,
      });
    }
  });

/** An address or CIDR sshd's `from=` accepts; anything else would lock every deploy out. */
export function cidrProblem(value: string): string | undefined {
  const [addr, prefix, ...rest] = value.split("/");
  const family = isIP(addr);
  const max = family === 4 ? 32 : 128;
  if (family === 0 || rest.length > 0 || (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= max))) {
    return `${JSON.stringify(value)} is not an IPv4 or IPv6 address or CIDR (e.g. 192.168.1.0/24 or fd00::/8)`;
  }
  return undefined;
}

const fleetSchema = z.strictObject({
  /**
   * Source addresses the deploy keys are accepted from (authorized_keys `from=`); empty = anywhere.
   * Include every place `pulumi up` runs (your LAN, the CI runner's address).
   */
  deployFrom: z
    .array(z.string().superRefine((v, ctx) => {
      const p = cidrProblem(v);
      if (p) ctx.addIssue({ code: "custom", message: `${p}; sshd would refuse the deploy key from everywhere` });
    }))
    .default([]),
  /** Servers deployed at once; a server starts when an earlier one settled (verified, failed or skipped). */
  parallelism: z.number().int().min(1).max(64).default(1),
  /** Releases kept in /var/lib/nixos-home-server/releases (current and previous are always kept). */
  keepReleases: z.number().int().min(2).max(100).default(3),
  /** System generations kept by deploy.sh (current and booted are always kept). */
  keepGenerations: z.number().int().min(2).max(1000).default(10),
  /** Notifications from every host; a server's own `notify` overrides it key by key. */
  notify: notifySchema.optional(),
});

/** Staged promotion: this stack deploys only what stack `from` verified (read through a StackReference). */
const promotionSchema = z.strictObject({
  from: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){0,2}$/, { error: "must be a stack name such as \"staging\" (or org/project/stack)" }),
  /** Emergencies only: deploy anyway; the reason is recorded in the stack outputs. */
  override: z.string().min(1).max(500).refine((r) => !/[\r\n]/.test(r), { error: "must be one line" }).optional(),
});

/**
 * Blue-green: two servers of the stack (the colours) behind a third (the proxy, with
 * nixos/services/proxy.nix). `live` is the colour that serves after this run (see README).
 */
const COLOURS = ["blue", "green"] as const;
const blueGreenSchema = z
  .strictObject({
    proxy: z.string().regex(SAFE_NAME, { error: "must be the name of a server of this stack" }),
    blue: z.string().regex(SAFE_NAME, { error: "must be the name of a server of this stack" }),
    green: z.string().regex(SAFE_NAME, { error: "must be the name of a server of this stack" }),
    live: z.enum(COLOURS, { error: "must be \"blue\" or \"green\"" }),
    /** The port the colours serve HTTP on (the proxy's upstream). */
    port: z.number().int().min(1).max(65535).default(80),
    /** Path the switch requests through the proxy to check the new colour answers. */
    healthPath: z.string().regex(/^\/[A-Za-z0-9._~\/-]*$/, { error: "must be a path such as \"/\" or \"/healthz\" (letters, digits, '.', '_', '~', '/', '-')" }).default("/"),
  })
  .superRefine((b, ctx) => {
    const roles = ["proxy", "blue", "green"] as const;
    roles.forEach((r, i) => {
      const other = roles.slice(0, i).find((o) => b[o] === b[r]);
      if (other) ctx.addIssue({ code: "custom", path: [r], message: `"${b[r]}" is already the ${other}; proxy, blue and green must be three different servers` });
    });
  });

export type Colour = (typeof COLOURS)[number];
export type BlueGreenConfig = z.output<typeof blueGreenSchema>;
export type HealthConfig = z.output<typeof healthSchema>;
export type PromotionConfig = z.output<typeof promotionSchema>;
export type ServerConfig = z.output<typeof serverSchema>;
export type FleetConfig = z.output<typeof fleetSchema>;
export type BootstrapConfig = ServerConfig["bootstrap"];
export type NotifyConfig = z.output<typeof notifySchema>;

/** A server's notification config: fleet.notify with the server's keys on top; undefined = none. */
export function effectiveNotify(s: ServerConfig, fleet: FleetConfig): NotifyConfig | undefined {
  const own = Object.fromEntries(Object.entries(s.notify ?? {}).filter(([, v]) => v !== undefined));
  const merged = { retrySeconds: 300, ...fleet.notify, ...own } as NotifyConfig;
  return merged.webhook || merged.email ? merged : undefined;
}

/** Every secret config key a server needs: its secret files and its notification credentials. */
export function secretKeysOf(s: ServerConfig, fleet: FleetConfig): [string, string][] {
  const n = effectiveNotify(s, fleet);
  const refs: [string, string | undefined][] = [
    ...s.secrets.map((f, i): [string, string] => [`secrets[${i}].secretKey`, f.secretKey]),
    ["notify.webhook.url.secretKey", (n?.webhook?.url as { secretKey?: string } | undefined)?.secretKey],
    ["notify.email.password.secretKey", (n?.email?.password as { secretKey?: string } | undefined)?.secretKey],
  ];
  return refs.filter((r): r is [string, string] => r[1] !== undefined);
}

/** Checks verify.sh runs per attempt: the listed ones plus `systemctl --failed`, disk and journal. */
export function checkCount(h: HealthConfig): number {
  return h.units.length + h.http.length + h.commands.length + 3;
}

/** Upper bound of verify.sh's run time: every check times out on every retry, with the waits between. */
export function worstCaseVerifySeconds(h: HealthConfig): number {
  return h.retries * checkCount(h) * h.timeoutSeconds + (h.retries - 1) * h.intervalSeconds;
}

export interface StackConfig {
  servers: ServerConfig[];
  fleet: FleetConfig;
  /** Problems that do not stop the run (reported with pulumi.log.warn). */
  warnings: string[];
  promotion?: PromotionConfig;
  blueGreen?: BlueGreenConfig;
}

export interface ValidationContext {
  /** Names of nixos/hosts/<name>/ directories that have a default.nix. */
  hostDirectories: readonly string[];
  /** Full names ("project:key") of config keys set in the stack, to check secret references. */
  configKeys?: ReadonlySet<string>;
  /** Per host directory name, its .nix files (repo-relative path -> text), to refuse placeholder hardware. */
  hostNixFiles?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : `${out === "" ? "" : "."}${String(p)}`;
  return out;
}

function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")} (check the spelling; see the config reference)`;
  }
  if (issue.code === "invalid_type" && /received undefined$/.test(issue.message)) return "is required";
  return issue.message;
}

/** Resolves a secretKey reference to its full "project:key" config name. */
export function fullConfigKey(secretKey: string): string {
  return secretKey.includes(":") ? secretKey : `${PROJECT}:${secretKey}`;
}

/**
 * Validates `servers` and `fleet` as read from stack config. Throws one ConfigError listing every
 * problem as `servers[1] "nixos-prod": host: ...`, so the user fixes them all in one go.
 */
export function parseStackConfig(raw: { servers: unknown; fleet: unknown; promotion?: unknown; blueGreen?: unknown }, context: ValidationContext): StackConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  let servers: ServerConfig[] = [];
  let fleet: FleetConfig | undefined;

  const fleetResult = fleetSchema.safeParse(raw.fleet ?? {});
  if (fleetResult.success) fleet = fleetResult.data;
  else for (const i of fleetResult.error.issues) problems.push(`fleet: ${i.path.length ? `${pathText(i.path)}: ` : ""}${issueText(i)}`);
  let promotion: PromotionConfig | undefined;
  if (raw.promotion !== undefined) {
    const r = promotionSchema.safeParse(raw.promotion);
    if (r.success) promotion = r.data;
    else for (const i of r.error.issues) problems.push(`promotion: ${i.path.length ? `${pathText(i.path)}: ` : ""}${issueText(i)}`);
  }

  let blueGreen: BlueGreenConfig | undefined;
  if (raw.blueGreen !== undefined) {
    const r = blueGreenSchema.safeParse(raw.blueGreen);
    if (r.success) blueGreen = r.data;
    else for (const i of r.error.issues) problems.push(`blueGreen: ${i.path.length ? `${pathText(i.path)}: ` : ""}${issueText(i)}`);
  }

  if (!Array.isArray(raw.servers) || raw.servers.length === 0) {
    problems.push(`servers: must be a non-empty list; set \`${PROJECT}:servers\` in Pulumi.<stack>.yaml`);
  } else {
    const label = (i: number) => {
      const n = (raw.servers as unknown[])[i] as { name?: unknown } | null;
      return `servers[${i}]${n && typeof n === "object" && typeof n.name === "string" ? ` ${JSON.stringify(n.name)}` : ""}`;
    };
    raw.servers.forEach((entry, i) => {
      const r = serverSchema.safeParse(entry);
      // Also for an otherwise invalid entry, so a new user learns every per-host value to fill in at once.
      const name = (entry as { name?: unknown } | null)?.name;
      const hardware = typeof name === "string" ? placeholderHardwareFiles(context.hostNixFiles?.[name] ?? {}).map((f) => `${label(i)}: ${placeholderHardwareProblem(name, f)}`) : [];
      if (!r.success) {
        for (const issue of r.error.issues) problems.push(`${label(i)}: ${issue.path.length ? `${pathText(issue.path)}: ` : ""}${issueText(issue)}`);
        problems.push(...hardware);
        return;
      }
      problems.push(...hardware);
      const s = r.data;
      servers.push(s);
      if (!context.hostDirectories.includes(s.name)) {
        problems.push(`${label(i)}: name: no nixos/hosts/${s.name}/default.nix, so flake.nix has no nixosConfigurations.${s.name}; create it (copy another host's directory)`);
      }
      if (context.configKeys) {
        const missing = (key: string | undefined) => key !== undefined && !context.configKeys!.has(fullConfigKey(key));
        // A bootstrap secret is needed only until the deploy key is in, and CI may not have it:
        // a warning, and only a first install without it fails.
        const bootstrapRefs: [string, string | undefined][] = [
          ["bootstrap.password.secretKey", (s.bootstrap.password as { secretKey?: string } | undefined)?.secretKey],
          ["bootstrap.keyFile.passphrase.secretKey", s.bootstrap.keyFile?.passphrase?.secretKey],
        ];
        for (const [field, key] of bootstrapRefs) {
          if (missing(key)) {
            warnings.push(`${label(i)}: ${field}: config key "${fullConfigKey(key!)}" is not set; fine once this stack's deploy key is on the host, but a first install fails without it (\`pulumi config set --secret ${key} <value>\`)`);
          }
        }
        // Secrets and notification credentials go to the host on every run: an error.
        for (const [field, key] of fleet ? secretKeysOf(s, fleet) : []) {
          if (missing(key)) problems.push(`${label(i)}: ${field}: config key "${fullConfigKey(key!)}" is not set; run \`pulumi config set --secret ${key} <value>\``);
        }
      }
    });
    // Cross-server checks on the raw entries, so they are reported even when other fields are broken.
    const seenNames = new Map<string, number>();
    const seenTargets = new Map<string, number>();
    raw.servers.forEach((entry, i) => {
      if (!entry || typeof entry !== "object") return;
      const e = entry as { name?: unknown; host?: unknown; port?: unknown };
      if (typeof e.name === "string") {
        const first = seenNames.get(e.name);
        if (first !== undefined) problems.push(`${label(i)}: name: duplicate of servers[${first}]; server names must be unique`);
        else seenNames.set(e.name, i);
      }
      if (typeof e.host === "string") {
        const target = `${e.host.toLowerCase()}:${typeof e.port === "number" ? e.port : 22}`;
        const first = seenTargets.get(target);
        if (first !== undefined) problems.push(`${label(i)}: host: ${target} is already servers[${first}]; two servers cannot share one host and port`);
        else seenTargets.set(target, i);
      }
    });
  }
  if (blueGreen && Array.isArray(raw.servers)) {
    const names = new Set((raw.servers as unknown[]).map((e) => (e as { name?: unknown } | null)?.name).filter((n): n is string => typeof n === "string"));
    for (const role of ["proxy", "blue", "green"] as const) {
      if (!names.has(blueGreen[role])) problems.push(`blueGreen: ${role}: "${blueGreen[role]}" is not a server of this stack (servers: ${[...names].join(", ") || "none"})`);
    }
  }
  if (problems.length > 0 || !fleet) throw new ConfigError(problems);
  // Narrow the placeholder type of bootstrap.password to the reference it was checked to be.
  servers = servers.map((s) => ({ ...s, bootstrap: { ...s.bootstrap } }));
  return { servers, fleet, warnings, promotion, blueGreen };
}

/** The password reference of a validated bootstrap, if any. */
export function bootstrapPasswordKey(b: BootstrapConfig): string | undefined {
  return (b.password as { secretKey: string } | undefined)?.secretKey;
}
