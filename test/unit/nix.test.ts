// The NixOS side without nixpkgs: every .nix file parses, and flake.nix evaluated with a stub
// nixosSystem has exactly one configuration per server of the committed stacks.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import * as yaml from "js-yaml";

const root = path.resolve(__dirname, "../..");

function nixFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" || e.name.startsWith(".") ? [] : nixFiles(p);
    return e.name.endsWith(".nix") ? [p] : [];
  });
}

function stackServers(stack: string): string[] {
  const doc = yaml.load(fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, { name: string }[]> };
  return doc.config["nixos-home-server:servers"].map((s) => s.name);
}

/** Evaluates the flake's outputs with stub inputs; nixosSystem returns its arguments. */
function evalFlake(flakeDir: string): Record<string, { system: string; modules: string[] }> {
  const expr = `
    let
      flake = import ${flakeDir}/flake.nix;
      lib = {
        filterAttrs = pred: set: builtins.listToAttrs (builtins.filter (x: pred x.name x.value)
          (map (name: { inherit name; value = set.\${name}; }) (builtins.attrNames set)));
        genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
        nixosSystem = args: { inherit (args) system; modules = map toString args.modules; };
      };
      outputs = flake.outputs { self = outputs; nixpkgs = { inherit lib; legacyPackages = { }; }; };
    in outputs.nixosConfigurations`;
  return JSON.parse(execFileSync("nix-instantiate", ["--eval", "--strict", "--json", "--expr", expr], { encoding: "utf8" }));
}

describe("nix files", () => {
  const files = nixFiles(root);
  it("finds the flake and the modules", () => {
    expect(files.map((f) => path.relative(root, f))).toEqual(expect.arrayContaining(["flake.nix", "nixos/default.nix", "nixos/users.nix", "nixos/services/web.nix"]));
  });
  it.each(files.map((f) => [path.relative(root, f)]))("%s parses", (rel) => {
    execFileSync("nix-instantiate", ["--parse", path.join(root, rel)], { stdio: ["ignore", "ignore", "pipe"] });
  });
  it("a syntax error is caught", () => {
    expect(() => execFileSync("nix-instantiate", ["--parse", "-E", "{ a = ; }"], { stdio: "pipe" })).toThrow();
  });
});

describe("flake.nix", () => {
  it("has a nixosConfiguration for every stack server and nothing else", () => {
    const servers = [...stackServers("staging"), ...stackServers("production")].sort();
    expect(servers).toEqual(["nixos-backup", "nixos-prod", "nixos-staging"]);
    const configs = evalFlake(root);
    expect(Object.keys(configs).sort()).toEqual(servers);
    for (const name of servers) {
      expect(configs[name]).toEqual({ system: "x86_64-linux", modules: [path.join(root, "nixos/hosts", name)] });
    }
  });

  it("sees only its own host inside a synced release", () => {
    const dir = fs.mkdtempSync(path.join(require("os").tmpdir(), "nhs-flake-"));
    try {
      fs.copyFileSync(path.join(root, "flake.nix"), path.join(dir, "flake.nix"));
      fs.mkdirSync(path.join(dir, "nixos/hosts/nixos-prod"), { recursive: true });
      fs.writeFileSync(path.join(dir, "nixos/hosts/nixos-prod/default.nix"), "{ }\n");
      fs.mkdirSync(path.join(dir, "nixos/hosts/no-default"));
      expect(Object.keys(evalFlake(dir))).toEqual(["nixos-prod"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
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
