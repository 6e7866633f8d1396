// Simulated NixOS hosts for tests and benchmarks: each one a network namespace plus a
// mount namespace running a real sshd (see sim/host-up.sh). Start, reach, fault and
// stop them from TypeScript.
import * as fs from "node:fs";
import * as path from "node:path";
import { exec, must, ExecResult, ExecOptions } from "./exec";

const SIM = path.join(__dirname, "sim");
export const HOSTS_DIR = process.env.NHS_HOSTS_DIR ?? "/run/nhs-hosts";
const NS_DIR = path.join(HOSTS_DIR, "ns");
const CLIENT_KEY = path.join(HOSTS_DIR, "id_ed25519");

/** Faults the simulator can inject. Generation faults apply to the next build. */
export type Fault =
  | { kind: "activation-fails" } // switch-to-configuration fails after the profile moved
  | { kind: "unit-fails"; unit: string } // the unit crashes right after the switch
  | { kind: "breaks-ssh" } // the new generation stops sshd accepting connections
  | { kind: "slow-activation"; seconds: number }
  | { kind: "restarts-sshd" } // the new generation's activation restarts sshd (sessions survive)
  | { kind: "slow-switch"; seconds: number } // every switch-to-configuration on this host takes that long
  | { kind: "disk-full" } // /nix has only a few MB free
  | { kind: "host-down" } // the host's link is down: no packets in or out
  | { kind: "host-key-changed" } // a new host key (sshd restarted with it)
  | { kind: "sudo-missing" }; // the deploy user's sudo rule is gone

interface HostRecord {
  name: string;
  index: number;
  address: string;
  owner: number | "cli";
  bootstrapPassword: string;
}

export interface SshOptions extends ExecOptions {
  user?: string;
  /** extra `ssh -o` style arguments, e.g. ["-o", "PasswordAuthentication=yes"] */
  args?: string[];
}

export class SimHost {
  readonly port = 22;
  readonly deployUser = "deploy";
  readonly bootstrapUser = "admin";
  readonly privateKeyPath = CLIENT_KEY;
  readonly netns: string;
  readonly dir: string;
  readonly nsFile: string;
  readonly knownHostsPath: string;
  private buildFaults = new Map<string, string>();
  private switchDelay = 0;

  constructor(private readonly rec: HostRecord) {
    this.netns = `nhs-${rec.name}`;
    this.dir = path.join(HOSTS_DIR, rec.name);
    this.nsFile = path.join(NS_DIR, `${rec.name}.mnt`);
    this.knownHostsPath = path.join(this.dir, "known_hosts");
  }

  get name(): string {
    return this.rec.name;
  }
  get address(): string {
    return this.rec.address;
  }
  get bootstrapPassword(): string {
    return this.rec.bootstrapPassword;
  }
  /** The host key in authorized_keys format, as pinned when the host started. */
  get hostKeyLine(): string {
    return fs.readFileSync(path.join(this.dir, "host_key.pub"), "utf8").trim();
  }

  /** A root shell inside the host's namespaces, without SSH: for setup and asserts. */
  run(cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.assertExists();
    return exec(
      "nsenter",
      [`--mount=${this.nsFile}`, `--net=/run/netns/${this.netns}`, "--", "env", "PATH=/run/wrappers/bin:/run/current-system/sw/bin:/usr/sbin", "sh", "-c", cmd],
      opts,
    );
  }

  async mustRun(cmd: string): Promise<string> {
    const r = await this.run(cmd);
    if (r.code !== 0) throw new Error(`${this.name}: '${cmd}' failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Runs a command over real SSH with the harness key, pinning the host key. */
  ssh(cmd: string, opts: SshOptions = {}): Promise<ExecResult> {
    return exec("ssh", [...this.sshOptions(), "-p", String(this.port), ...(opts.args ?? []), `${opts.user ?? this.deployUser}@${this.address}`, "--", cmd], opts);
  }

  /** Runs an sftp batch (`sftp -b -`, stops at the first failed request) over real SSH with the harness key. */
  sftp(batch: string, opts: SshOptions = {}): Promise<ExecResult> {
    return exec("sftp", [...this.sshOptions(), "-P", String(this.port), ...(opts.args ?? []), "-b", "-", `${opts.user ?? this.deployUser}@${this.address}`], { ...opts, input: batch });
  }

  private sshOptions(): string[] {
    this.assertExists();
    return [
      "-i", CLIENT_KEY,
      "-o", "IdentitiesOnly=yes",
      "-o", `UserKnownHostsFile=${this.knownHostsPath}`,
      "-o", "StrictHostKeyChecking=yes",
      "-o", "BatchMode=yes",
      "-o", "ConnectTimeout=3",
      "-o", "LogLevel=ERROR",
    ];
  }

  /** The generation the system profile points at. */
  async generation(): Promise<number> {
    const link = (await this.mustRun("readlink /nix/var/nix/profiles/system")).trim();
    return Number(link.replace(/^system-/, "").replace(/-link$/, ""));
  }

  /** The store path /run/current-system points at. */
  async currentSystem(): Promise<string> {
    return (await this.mustRun("readlink /run/current-system")).trim();
  }

  /** Commands (and shells, subsystems) sshd started for any client so far. */
  async commandCount(): Promise<number> {
    const r = await this.run("grep -c 'Starting session:' /var/lib/nhs-sim/sshd.log || true");
    return Number(r.stdout.trim() || "0");
  }

  async setFault(f: Fault): Promise<void> {
    switch (f.kind) {
      case "activation-fails":
        return this.setBuildFault("activate-fails", "activate-fails");
      case "unit-fails":
        return this.setBuildFault("unit-fails", `unit-fails:${f.unit}`);
      case "breaks-ssh":
        return this.setBuildFault("breaks-ssh", "breaks-ssh");
      case "slow-activation":
        return this.setBuildFault("slow-activation", `slow-activation:${f.seconds}`);
      case "restarts-sshd":
        return this.setBuildFault("restarts-sshd", "restarts-sshd");
      case "slow-switch":
        this.switchDelay = f.seconds;
        return this.writeControl();
      case "disk-full":
        // A real full filesystem: shrink the /nix tmpfs to what is used plus 4 MB.
        await this.mustRun("used=$(df -Pk /nix | awk 'NR==2 {print $3}'); mount -o remount,size=$((used + 4096))k /nix");
        return;
      case "host-down":
        await this.mustRun("ip link set eth0 down");
        return;
      case "host-key-changed":
        await this.mustRun(
          "rm -f /etc/ssh/ssh_host_ed25519_key* && ssh-keygen -q -t ed25519 -N '' -C changed -f /etc/ssh/ssh_host_ed25519_key && systemctl restart sshd.service",
        );
        return;
      case "sudo-missing":
        await this.mustRun("rm -f /etc/sudoers.d/nhs-deploy");
        return;
    }
  }

  async clearFault(kind: Fault["kind"]): Promise<void> {
    switch (kind) {
      case "activation-fails":
        return this.clearBuildFault("activate-fails");
      case "unit-fails":
      case "breaks-ssh":
      case "slow-activation":
      case "restarts-sshd":
        return this.clearBuildFault(kind);
      case "slow-switch":
        this.switchDelay = 0;
        return this.writeControl();
      case "disk-full":
        await this.mustRun("mount -o remount,size=1g /nix");
        return;
      case "host-down":
        await this.mustRun("ip link set eth0 up");
        return;
      case "host-key-changed":
        return; // a changed key stays changed; re-pin with hostKeyLine if needed
      case "sudo-missing":
        await this.mustRun("printf 'deploy ALL=(ALL:ALL) NOPASSWD: SETENV: ALL\\n' >/etc/sudoers.d/nhs-deploy && chmod 0440 /etc/sudoers.d/nhs-deploy");
        return;
    }
  }

  private async setBuildFault(key: string, value: string): Promise<void> {
    this.buildFaults.set(key, value);
    await this.writeControl();
  }
  private async clearBuildFault(key: string): Promise<void> {
    this.buildFaults.delete(key);
    await this.writeControl();
  }
  private async writeControl(): Promise<void> {
    const line = `build_faults=${[...this.buildFaults.values()].join(",")}\nswitch_delay=${this.switchDelay}\n`;
    await this.run("cat >/var/lib/nhs-sim/control", { input: line });
  }

  /** The host's key as it is now (after host-key-changed it differs from hostKeyLine). */
  async liveHostKeyLine(): Promise<string> {
    return (await this.mustRun("cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub")).trim();
  }

  exists(): boolean {
    return fs.existsSync(`/run/netns/${this.netns}`);
  }

  /** Before any connection: the address must belong to a namespace we created. */
  private assertExists(): void {
    if (!this.exists()) {
      throw new Error(`simulated host ${this.name}: network namespace ${this.netns} does not exist (host stopped?)`);
    }
  }

  async stop(): Promise<void> {
    await exec("sh", [path.join(SIM, "host-down.sh"), this.name, this.dir, this.nsFile]);
  }
}

function readRecords(): HostRecord[] {
  if (!fs.existsSync(HOSTS_DIR)) return [];
  const recs: HostRecord[] = [];
  for (const e of fs.readdirSync(HOSTS_DIR)) {
    const f = path.join(HOSTS_DIR, e, "host.json");
    if (fs.existsSync(f)) {
      try {
        recs.push(JSON.parse(fs.readFileSync(f, "utf8")) as HostRecord);
      } catch {
        recs.push({ name: e, index: -1, address: "", owner: 0, bootstrapPassword: "" });
      }
    }
  }
  return recs;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes hosts left over by a killed run: their owner process is gone. */
export async function cleanupLeftovers(): Promise<string[]> {
  const removed: string[] = [];
  const known = new Set<string>();
  for (const rec of readRecords()) {
    known.add(`nhs-${rec.name}`);
    if (rec.owner === "cli" || alive(rec.owner)) continue;
    await new SimHost(rec).stop();
    removed.push(rec.name);
  }
  // Namespaces with our prefix but no record (killed before the record was written).
  const ns = await exec("ip", ["netns", "list"]);
  for (const line of ns.stdout.split("\n")) {
    const n = line.split(" ")[0];
    if (n && n.startsWith("nhs-") && !known.has(n)) {
      const name = n.slice(4);
      await exec("sh", [path.join(SIM, "host-down.sh"), name, path.join(HOSTS_DIR, name), path.join(NS_DIR, `${name}.mnt`)]);
      removed.push(name);
    }
  }
  return removed;
}

export interface StartOptions {
  /** Host names (default h<index>); each also names its NixOS configuration. */
  names?: string[];
  /** "cli" hosts survive their creator and are removed only by stopAllHosts. */
  owner?: "cli";
  /** Authorize the harness key for the deploy user (default true). With false, only
   *  the bootstrap user can log in until something installs a deploy key. */
  authorizeDeployKey?: boolean;
}

export async function startHosts(n: number, opts: StartOptions = {}): Promise<SimHost[]> {
  await cleanupLeftovers();
  fs.mkdirSync(HOSTS_DIR, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(CLIENT_KEY)) {
    await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "nhs-harness", "-f", CLIENT_KEY]);
  }
  const used = new Set(readRecords().map((r) => r.index));
  const usedNames = new Set(readRecords().map((r) => r.name));
  const hosts: SimHost[] = [];
  try {
    for (let i = 0; i < n; i++) {
      let index = 1;
      while (used.has(index)) index++;
      if (index > 250) throw new Error("too many simulated hosts (max 250)");
      used.add(index);
      const name = opts.names?.[i] ?? `h${index}`;
      if (!/^[a-z][a-z0-9-]{0,9}$/.test(name)) throw new Error(`host name '${name}': use 1-10 of a-z, 0-9, '-'`);
      if (usedNames.has(name)) throw new Error(`host name '${name}' is already running (npm run hosts -- down?)`);
      usedNames.add(name);
      const rec: HostRecord = {
        name,
        index,
        address: `10.231.${index}.2`,
        owner: opts.owner ?? process.pid,
        bootstrapPassword: `pw-${Math.random().toString(36).slice(2, 12)}`,
      };
      const host = new SimHost(rec);
      fs.mkdirSync(host.dir, { recursive: true });
      fs.writeFileSync(path.join(host.dir, "host.json"), JSON.stringify(rec, null, 2));
      hosts.push(host);
      const pwFile = path.join(host.dir, "bootstrap-password");
      fs.writeFileSync(pwFile, rec.bootstrapPassword, { mode: 0o600 });
      await must("sh", [path.join(SIM, "host-up.sh"), name, String(index), host.dir, host.nsFile, `${CLIENT_KEY}.pub`, pwFile,
        opts.authorizeDeployKey === false ? "no-deploy-key" : "with-deploy-key"]);
      const key = (await host.mustRun("cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub")).trim();
      fs.writeFileSync(path.join(host.dir, "host_key.pub"), `${key}\n`);
      fs.writeFileSync(host.knownHostsPath, `${rec.address} ${key}\n`);
      await waitForSsh(host);
    }
  } catch (e) {
    for (const h of hosts) await h.stop();
    throw e;
  }
  return hosts;
}

async function waitForSsh(host: SimHost): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await host.run("busybox nc -z 127.0.0.1 22 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/22) 2>/dev/null || ss -ltn | grep -q ':22 '");
    if (r.code === 0) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`simulated host ${host.name}: sshd did not start listening`);
}

/** The hosts recorded in HOSTS_DIR, running or not. */
export function listHosts(): SimHost[] {
  return readRecords()
    .filter((r) => r.index >= 0)
    .map((r) => new SimHost(r));
}

export async function stopAllHosts(): Promise<void> {
  for (const h of listHosts()) await h.stop();
  await cleanupLeftovers();
}
