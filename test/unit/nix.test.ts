// The NixOS side without nixpkgs: every .nix file parses; flake.lock is consistent with flake.nix;
// and flake.nix evaluated with a stand-in nixpkgs (nixos-stub.nix: the module system, no packages)
// gives each stack server a configuration whose ports, interface, platform, hardware, monitoring and
// backups follow its host file, and whose stack health checks watch what it runs.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import * as yaml from "js-yaml";

const root = path.resolve(__dirname, "../..");
const STUB = path.join(__dirname, "nixos-stub.nix");

function nixFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" || e.name.startsWith(".") ? [] : nixFiles(p);
    return e.name.endsWith(".nix") ? [p] : [];
  });
}

interface StackServer {
  name: string;
  health?: { units?: string[] };
}

function stackServers(stack: string): StackServer[] {
  const doc = yaml.load(fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, StackServer[]> };
  return doc.config["nixos-home-server:servers"];
}

function nixEval(expr: string): any {
  return JSON.parse(execFileSync("nix-instantiate", ["--eval", "--strict", "--json", "--expr", expr], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
}

/** The error text of an evaluation that must fail. */
function nixEvalError(expr: string): string {
  try {
    nixEval(expr);
  } catch (err) {
    return String((err as { stderr?: string }).stderr);
  }
  throw new Error("evaluation succeeded; expected it to fail");
}

/** flake.nix of `flakeDir` with the stand-in nixpkgs; `select` maps each nixosConfiguration. */
function flakeExpr(flakeDir: string, select: string): string {
  return `
    let
      stub = import ${STUB};
      flake = import ${flakeDir}/flake.nix;
      outputs = flake.outputs { self = outputs; nixpkgs = stub.nixpkgs; };
    in builtins.mapAttrs (name: sys: let c = sys.config; in ${select}) outputs.nixosConfigurations`;
}

/** What the tests read from one evaluated host. */
const SUMMARY = `let list = x: if x == null then [ ] else x; in {
  inherit (sys) hasSystemArgument files external;
  platform = c.nixpkgs.hostPlatform;
  services = builtins.mapAttrs (_: s: s.enable) c.homeServer.services;
  tcp = builtins.sort builtins.lessThan c.networking.firewall.allowedTCPPorts;
  udp = builtins.sort builtins.lessThan (list c.networking.firewall.allowedUDPPorts);
  interfaces = c.networking.interfaces;
  useDHCP = c.networking.useDHCP;
  gateway = if c.networking.defaultGateway.address == null then null else c.networking.defaultGateway;
  rootFs = c.fileSystems."/" or null;
  exporter = c.services.prometheus.exporters.node;
  backup = c.services.restic.backups.homeserver;
  dumps = c.services.postgresqlBackup.enable;
  dumpDirectory = c.services.postgresqlBackup.location;
  tmpfiles = list c.systemd.tmpfiles.rules;
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) (list c.assertions));
}`;

interface Host {
  hasSystemArgument: boolean;
  files: string[];
  external: string[];
  platform: string;
  services: Record<string, boolean>;
  tcp: number[];
  udp: number[];
  interfaces: Record<string, { useDHCP: boolean; ipv4: { addresses: { address: string; prefixLength: number }[] | null } }>;
  useDHCP: boolean;
  gateway: { address: string; interface: string } | null;
  rootFs: { device: string; fsType: string } | null;
  exporter: { enable: boolean | null; enabledCollectors: string[] | null; extraFlags: string[] | null; openFirewall: boolean };
  backup: { repository: string | null; passwordFile: string | null; paths: string[] | null; initialize: boolean | null } | null;
  dumps: boolean | null;
  dumpDirectory: string;
  tmpfiles: string[];
  failedAssertions: string[];
}

function evalHosts(flakeDir: string): Record<string, Host> {
  return nixEval(flakeExpr(flakeDir, SUMMARY));
}

/** A throwaway copy of the flake (flake.nix, nixos/) with extra host directories. */
function withFlakeCopy<T>(hosts: Record<string, Record<string, string>>, fn: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-flake-"));
  try {
    fs.copyFileSync(path.join(root, "flake.nix"), path.join(dir, "flake.nix"));
    fs.cpSync(path.join(root, "nixos"), path.join(dir, "nixos"), { recursive: true });
    for (const [name, files] of Object.entries(hosts)) {
      fs.mkdirSync(path.join(dir, "nixos/hosts", name), { recursive: true });
      for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, "nixos/hosts", name, file), text);
    }
    return fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A host module: the shared config, a hardware file and the given lines. */
function hostModule(name: string, lines: string, hardware = "./hardware-configuration.nix"): string {
  return `{ ... }:\n{\n  imports = [ ../../default.nix ${hardware} ];\n  networking.hostName = "${name}";\n  nixpkgs.hostPlatform = "x86_64-linux";\n${lines}\n  system.stateVersion = "26.05";\n}\n`;
}

/** The shape nixos-generate-config gives a Raspberry Pi 4 (no placeholder marker). */
const PI_HARDWARE = `# Do not modify this file!  It was generated by 'nixos-generate-config'
{ config, lib, pkgs, modulesPath, ... }:
{
  imports = [ (modulesPath + "/installer/scan/not-detected.nix") ];
  boot.initrd.availableKernelModules = [ "xhci_pci" "usbhid" ];
  boot.loader.grub.enable = false;
  boot.loader.generic-extlinux-compatible.enable = true;
  fileSystems."/" = { device = "/dev/disk/by-uuid/44444444-4444-4444-8888-888888888888"; fsType = "ext4"; };
  networking.useDHCP = lib.mkDefault true;
  nixpkgs.hostPlatform = lib.mkDefault "aarch64-linux";
}
`;

/** Ports nixpkgs opens for each of our services (see the stand-ins in nixos-stub.nix); ssh always. */
function expectedPorts(services: Record<string, boolean>): { tcp: number[]; udp: number[] } {
  const tcp = [22, ...(services.web ? [80] : []), ...(services.samba ? [139, 445] : []), ...(services.remoteDesktop ? [3389] : [])];
  const udp = services.samba ? [137, 138] : [];
  return { tcp: tcp.sort((a, b) => a - b), udp };
}

describe("nix files", () => {
  const files = nixFiles(root);
  it("finds the flake and the modules", () => {
    expect(files.map((f) => path.relative(root, f))).toEqual(
      expect.arrayContaining(["flake.nix", "nixos/default.nix", "nixos/users.nix", "nixos/services/web.nix", "nixos/monitoring.nix", "nixos/backup.nix", "test/unit/nixos-stub.nix"]),
    );
  });
  it.each(files.map((f) => [path.relative(root, f)]))("%s parses", (rel) => {
    execFileSync("nix-instantiate", ["--parse", path.join(root, rel)], { stdio: ["ignore", "ignore", "pipe"] });
  });
  it("a syntax error is caught", () => {
    expect(() => execFileSync("nix-instantiate", ["--parse", "-E", "{ a = ; }"], { stdio: "pipe" })).toThrow();
  });
});

/** Everything wrong with a lock's nixpkgs node, given the flake.nix input URL. */
function lockProblems(inputUrl: string, lock: any): string[] {
  const problems: string[] = [];
  const m = /^github:([^/]+)\/([^/]+)\/([^/?]+)$/.exec(inputUrl);
  if (!m) return [`input URL ${inputUrl} is not github:owner/repo/ref`];
  const node = lock?.nodes?.[lock?.nodes?.[lock?.root]?.inputs?.nixpkgs];
  if (!node) return ["no nixpkgs node"];
  const { original, locked } = node;
  if (JSON.stringify(original) !== JSON.stringify({ owner: m[1], ref: m[3], repo: m[2], type: "github" })) problems.push(`original ${JSON.stringify(original)} is not ${inputUrl}`);
  if (locked?.type !== "github" || locked?.owner !== m[1] || locked?.repo !== m[2]) problems.push("locked is another repository");
  if (!/^[0-9a-f]{40}$/.test(locked?.rev ?? "")) problems.push(`rev ${locked?.rev} is not 40 hex digits`);
  const hash = /^sha256-([A-Za-z0-9+/]{43}=)$/.exec(locked?.narHash ?? "");
  if (!hash || Buffer.from(hash[1], "base64").length !== 32) problems.push(`narHash ${locked?.narHash} is not an SRI sha256`);
  if (!Number.isInteger(locked?.lastModified) || locked.lastModified <= 0) problems.push("lastModified is not a timestamp");
  return problems;
}

describe("flake.lock", () => {
  const inputUrl = nixEval(`(import ${root}/flake.nix).inputs.nixpkgs.url`) as string;
  const lock = JSON.parse(fs.readFileSync(path.join(root, "flake.lock"), "utf8"));

  it("pins the release flake.nix names, with a well-formed rev and narHash", () => {
    expect(inputUrl).toBe("github:NixOS/nixpkgs/nixos-26.05");
    expect(lock.version).toBe(7);
    expect(lockProblems(inputUrl, lock)).toEqual([]);
  });

  it("the check finds a lock that contradicts flake.nix or was not written by Nix", () => {
    const broken = (f: (node: any) => void) => {
      const copy = JSON.parse(JSON.stringify(lock));
      f(copy.nodes.nixpkgs);
      return lockProblems(inputUrl, copy);
    };
    expect(broken((n) => (n.original.ref = "nixos-24.11"))).toEqual([expect.stringMatching(/^original .* is not github:NixOS\/nixpkgs\/nixos-26.05$/)]);
    expect(broken((n) => (n.locked.rev = "b43c397f6c21"))).toEqual(["rev b43c397f6c21 is not 40 hex digits"]);
    expect(broken((n) => (n.locked.narHash = "sha256-x"))).toEqual(["narHash sha256-x is not an SRI sha256"]);
    expect(broken((n) => (n.locked.narHash = "sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA="))).toHaveLength(1);
  });
});

describe("flake.nix with the stand-in nixpkgs", () => {
  const servers = [...stackServers("staging"), ...stackServers("production")];
  let hosts: Record<string, Host>;
  beforeAll(() => {
    hosts = evalHosts(root);
  });

  it("has a nixosConfiguration for every stack server and nothing else, each with its own platform", () => {
    expect(servers.map((s) => s.name).sort()).toEqual(["nixos-backup", "nixos-prod", "nixos-staging"]);
    expect(Object.keys(hosts).sort()).toEqual(servers.map((s) => s.name).sort());
    for (const [name, h] of Object.entries(hosts)) {
      // No `system` argument: the platform is the host's nixpkgs.hostPlatform.
      expect(h.hasSystemArgument, name).toBe(false);
      expect(h.platform, name).toBe("x86_64-linux");
      expect(h.files, name).toEqual(expect.arrayContaining([path.join(root, "nixos/hosts", name), path.join(root, "nixos/default.nix")]));
      expect(h.failedAssertions, name).toEqual([]);
    }
  });

  it("opens exactly the ports of each host's enabled services", () => {
    for (const [name, h] of Object.entries(hosts)) {
      expect({ tcp: h.tcp, udp: h.udp }, name).toEqual(expectedPorts(h.services));
    }
    // The same, spelt out: only nixos-prod runs xrdp, so only it opens 3389.
    expect(hosts["nixos-staging"]).toMatchObject({ tcp: [22, 80], udp: [] });
    expect(hosts["nixos-prod"]).toMatchObject({ tcp: [22, 80, 139, 445, 3389], udp: [137, 138] });
    expect(hosts["nixos-backup"]).toMatchObject({ tcp: [22, 139, 445], udp: [137, 138] });
  });

  it("configures the host's own interface: static address and gateway on it, DHCP nowhere else", () => {
    expect(hosts["nixos-prod"].interfaces).toEqual({ enp1s0: { useDHCP: false, ipv4: { addresses: [{ address: "192.168.1.10", prefixLength: 24 }] } } });
    expect(hosts["nixos-prod"].gateway).toEqual({ address: "192.168.1.1", interface: "enp1s0" });
    for (const h of Object.values(hosts)) expect(h.useDHCP).toBe(false);
  });

  it("gives each example host its own hardware file, still the placeholder", () => {
    for (const [name, h] of Object.entries(hosts)) {
      expect(h.files, name).toEqual(expect.arrayContaining([path.join(root, "nixos/hosts", name, "hardware-configuration.nix"), path.join(root, "nixos/hardware/placeholder.nix")]));
      expect(h.rootFs?.device, name).toBe("/dev/disk/by-label/nixos");
    }
  });

  it("runs the node exporter with the textfile collector on the deploy-metrics directory", () => {
    for (const [name, h] of Object.entries(hosts)) {
      expect(h.exporter.enable, name).toBe(true);
      expect(h.exporter.extraFlags, name).toEqual(["--collector.textfile.directory=/var/lib/nixos-home-server/metrics"]);
      expect(h.exporter.openFirewall, name).toBe(false);
      expect(h.tmpfiles, name).toContain("d /var/lib/nixos-home-server/metrics 0755 root root -");
    }
  });

  it("backs up the database dumps and the Samba shares with restic, password from outside the store", () => {
    expect(hosts["nixos-staging"].backup?.paths).toEqual(["/var/backup/postgresql"]);
    expect(hosts["nixos-prod"].backup?.paths).toEqual(["/var/backup/postgresql", "/srv/samba/public"]);
    expect(hosts["nixos-backup"].backup?.paths).toEqual(["/srv/backup"]);
    for (const [name, h] of Object.entries(hosts)) {
      expect(h.dumps, name).toBe(h.services.database);
      expect(h.backup?.repository, name).toMatch(/nixos-/);
      expect(h.backup?.passwordFile, name).toBe("/var/lib/nixos-home-server/secrets/restic-password");
      expect(h.backup?.initialize, name).toBe(true);
    }
  });

  it("the stacks' health checks watch each server's services, backup timer and exporter", () => {
    const units: Record<string, string> = { web: "nginx.service", database: "postgresql.service", samba: "samba-smbd.service", remoteDesktop: "xrdp.service" };
    for (const s of servers) {
      const h = hosts[s.name];
      const expected = [
        ...Object.keys(units).filter((svc) => h.services[svc]).map((svc) => units[svc]),
        ...(h.backup?.repository ? ["restic-backups-homeserver.timer"] : []),
        ...(h.exporter.enable ? ["prometheus-node-exporter.service"] : []),
      ];
      const watched = (s.health?.units ?? []).filter((u) => u !== "sshd.service");
      expect(watched.sort(), s.name).toEqual(expected.sort());
    }
  });

  it("sees only its own host inside a synced release", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nhs-flake-"));
    try {
      fs.copyFileSync(path.join(root, "flake.nix"), path.join(dir, "flake.nix"));
      fs.mkdirSync(path.join(dir, "nixos/hosts/nixos-prod"), { recursive: true });
      fs.writeFileSync(path.join(dir, "nixos/hosts/nixos-prod/default.nix"), "{ }\n");
      fs.mkdirSync(path.join(dir, "nixos/hosts/no-default"));
      expect(Object.keys(nixEval(flakeExpr(dir, "true")))).toEqual(["nixos-prod"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("host files (stand-in evaluation of throwaway hosts)", () => {
  it("a host with only SSH opens only 22; monitoring stays closed unless the host opens it", () => {
    const lines = '  homeServer.network.interface = "eth0";\n  homeServer.monitoring.enable = true;\n';
    const open = '  homeServer.network.interface = "eth0";\n  homeServer.monitoring.enable = true;\n  services.prometheus.exporters.node.openFirewall = true;\n';
    const hosts = withFlakeCopy({ bare: { "default.nix": hostModule("bare", lines, "") }, scraped: { "default.nix": hostModule("scraped", open, "") } }, evalHosts);
    expect(hosts.bare).toMatchObject({ tcp: [22], udp: [] });
    expect(hosts.scraped).toMatchObject({ tcp: [22, 9100], udp: [] });
  });

  it("a host without an interface fails evaluation, saying how to find the name", () => {
    const err = withFlakeCopy({ nameless: { "default.nix": hostModule("nameless", '  homeServer.network.address = "192.168.1.30";', "") } }, (dir) =>
      nixEvalError(flakeExpr(dir, "builtins.attrNames c.networking.interfaces")),
    );
    expect(err).toContain('homeServer.network.interface is not set for host "nameless"');
    expect(err).toContain("Run `ip link` on the server");
    expect(err).toContain("nixos/hosts/nameless/default.nix");
  });

  it("an interface without an address gets DHCP on that interface only", () => {
    const hosts = withFlakeCopy({ dhcp: { "default.nix": hostModule("dhcp", '  homeServer.network.interface = "ens3";', "") } }, evalHosts);
    expect(hosts.dhcp.interfaces).toEqual({ ens3: { useDHCP: true, ipv4: { addresses: null } } });
    expect(hosts.dhcp.gateway).toBeNull();
  });

  it("a Raspberry Pi with its generated hardware file evaluates as aarch64-linux, without the placeholder", () => {
    const host = hostModule("pi", '  homeServer.network.interface = "end0";').replace('  nixpkgs.hostPlatform = "x86_64-linux";\n', "");
    const hosts = withFlakeCopy({ pi: { "default.nix": host, "hardware-configuration.nix": PI_HARDWARE } }, evalHosts);
    expect(hosts.pi.platform).toBe("aarch64-linux");
    expect(hosts.pi.hasSystemArgument).toBe(false);
    expect(hosts.pi.rootFs?.device).toBe("/dev/disk/by-uuid/44444444-4444-4444-8888-888888888888");
    expect(hosts.pi.files.some((f) => f.endsWith("hardware/placeholder.nix"))).toBe(false);
    expect(hosts.pi.external).toEqual(["/nixpkgs/nixos/modules/installer/scan/not-detected.nix"]);
  });

  it("backups without a repository, or with nothing to back up, fail with a message", () => {
    const noRepo = '  homeServer.network.interface = "eth0";\n  homeServer.services.database.enable = true;\n  homeServer.backup.enable = true;\n';
    const err = withFlakeCopy({ norepo: { "default.nix": hostModule("norepo", noRepo, "") } }, (dir) => nixEvalError(flakeExpr(dir, "c.services.restic.backups.homeserver.repository")));
    expect(err).toContain('homeServer.backup.repository is not set for host "norepo"');
    const nothing = '  homeServer.network.interface = "eth0";\n  homeServer.backup = { enable = true; repository = "/mnt/r"; };\n';
    const hosts = withFlakeCopy({ empty: { "default.nix": hostModule("empty", nothing, "") } }, evalHosts);
    expect(hosts.empty.failedAssertions).toEqual([expect.stringContaining("there is nothing to back up")]);
  });

  it("database and Samba passwords come from secret files by path, never from the store", () => {
    const lines = [
      '  homeServer.network.interface = "eth0";',
      '  homeServer.services.database = { enable = true; databases = [ "app" ]; passwordSecrets.app = "postgres-app"; };',
      '  homeServer.services.samba = { enable = true; users.alice = "samba-alice"; };',
    ].join("\n");
    const plain = '  homeServer.network.interface = "eth0";\n  homeServer.services.database.enable = true;\n';
    const units = withFlakeCopy({ pw: { "default.nix": hostModule("pw", lines, "") }, nopw: { "default.nix": hostModule("nopw", plain, "") } }, (dir) =>
      nixEval(flakeExpr(dir, `{ pg = c.systemd.services.homeserver-postgresql-passwords or null; smb = c.systemd.services.homeserver-samba-passwords or null; }`)),
    );
    expect(units.pw.pg.serviceConfig.User).toBe("postgres");
    expect(units.pw.pg.script).toContain("\\set pw `cat /var/lib/nixos-home-server/secrets/postgres-app`");
    expect(units.pw.pg.script).toContain(`ALTER ROLE "app" WITH PASSWORD :'pw';`);
    expect(units.pw.pg.script).toContain("SET log_min_error_statement = PANIC;");
    expect(units.pw.smb.script).toContain("pw=$(cat /var/lib/nixos-home-server/secrets/samba-alice)");
    expect(units.pw.smb.script).toContain(`printf '%s\\n%s\\n' "$pw" "$pw" | smbpasswd -s -a alice`);
    // Nothing to set, no unit (the stand-in keeps a skeleton of null leaves where every definition
    // is mkIf false; nixpkgs' attrsOf drops the name).
    expect(units.nopw.pg?.script ?? null).toBeNull();
    expect(units.nopw.smb?.script ?? null).toBeNull();
  });

  it("a misspelt option of ours is an error, as in NixOS", () => {
    const typo = '  homeServer.network.interface = "eth0";\n  homeServer.services.samab.enable = true;\n';
    const err = withFlakeCopy({ typo: { "default.nix": hostModule("typo", typo, "") } }, (dir) => nixEvalError(flakeExpr(dir, "c.homeServer.services")));
    expect(err).toContain("The option `homeServer.services.samab' does not exist.");
  });
});

describe("users.nix", () => {
  it("declares the deploy key from nixos/generated/deploy.json when present", () => {
    const dir = fs.mkdtempSync(path.join(require("os").tmpdir(), "nhs-users-"));
    try {
      fs.copyFileSync(path.join(root, "nixos/users.nix"), path.join(dir, "users.nix"));
      const evalUsers = () => {
        // A tiny stand-in for the module system: options' defaults feed config.
        const expr = `
          let
            lib = {
              mkOption = o: o; mkDefault = v: v; types = { str = null; listOf = _: null; };
              mkIf = c: v: if c then v else { };
              mkMerge = builtins.foldl' (a: b: a // b) { };
              optional = c: v: if c then [ v ] else [ ];
            };
            pkgs = { writeScript = name: text: "/nix/store/x-" + name; coreutils = "/nix/store/c-coreutils"; };
            m = import ${dir}/users.nix { inherit lib pkgs; config = { homeServer.deploy = { user = fix.options.homeServer.deploy.user.default; extraAuthorizedKeys = [ ]; }; }; };
            fix = m;
          in { user = m.options.homeServer.deploy.user.default; users = m.config.users.users; sudo = m.config.security.sudo.extraRules; }`;
        return JSON.parse(execFileSync("nix-instantiate", ["--eval", "--strict", "--json", "--expr", expr], { encoding: "utf8" }));
      };
      expect(evalUsers().users.deploy.openssh.authorizedKeys.keys).toEqual([]);
      fs.mkdirSync(path.join(dir, "generated"));
      fs.writeFileSync(path.join(dir, "generated/deploy.json"), JSON.stringify({ user: "ops", authorizedKey: "no-port-forwarding ssh-ed25519 AAAA k" }));
      const withKey = evalUsers();
      expect(withKey.user).toBe("ops");
      expect(withKey.users.ops.openssh.authorizedKeys.keys).toEqual(["no-port-forwarding ssh-ed25519 AAAA k"]);
      // Least privilege: no wheel, and sudo runs only the dispatcher, never ALL.
      expect(withKey.users.ops.extraGroups).toBeUndefined();
      expect(withKey.sudo).toEqual([
        { users: ["ops"], runAs: "root", commands: [{ command: "/var/lib/nixos-home-server/dispatch", options: ["NOPASSWD"] }] },
      ]);
      expect(JSON.stringify(withKey.sudo)).not.toContain('"ALL"');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
