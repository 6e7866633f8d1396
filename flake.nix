# nixos-home-server: the home servers' NixOS configurations and the deploy tooling.
{
  description = "NixOS home servers deployed by Pulumi (see Pulumi.<stack>.yaml)";

  inputs = {
    # NixOS 26.05, the current stable release. flake.lock pins one commit of this branch; refresh it
    # with `nix flake update` (README, "NixOS configuration").
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
  };

  outputs = { self, nixpkgs, ... }:
    let
      lib = nixpkgs.lib;
      # One configuration per nixos/hosts/<name>/ directory. A synced release carries only its own
      # host directory, so on a server this yields exactly that server.
      hostNames = builtins.attrNames (lib.filterAttrs
        (name: type: type == "directory" && builtins.pathExists (./nixos/hosts + "/${name}/default.nix"))
        (builtins.readDir ./nixos/hosts));
      # Machines the deploy tools run on. A server's own platform is nixpkgs.hostPlatform in its host
      # directory, not this list.
      toolSystems = [ "x86_64-linux" "aarch64-linux" ];
      forToolSystems = f: lib.genAttrs toolSystems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      # NixOS configurations, one per server in the Pulumi stacks.
      # Deployed by Pulumi; by hand: 'nixos-rebuild switch --flake .#<name> --target-host deploy@<host> --sudo'.
      # No `system` argument: nixpkgs' nixosSystem then takes the platform from each host's
      # nixpkgs.hostPlatform, so an aarch64 Raspberry Pi and an x86_64 PC share this flake.
      nixosConfigurations = lib.genAttrs hostNames (name:
        lib.nixosSystem {
          modules = [ (./nixos/hosts + "/${name}") ];
        });

      # Deploy tools: 'nix develop', then 'npm ci' and 'npm run pulumi -- preview -s staging'.
      # nodejs_22: Node.js 20 reached its end of life before NixOS 26.05.
      devShells = forToolSystems (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [ nodejs_22 pulumi openssh shellcheck nixos-rebuild ];
        };
      });

      # Formatter for the .nix files: 'nix fmt' (nixfmt-tree formats the whole tree with nixfmt,
      # the formatter nixpkgs itself uses; nixpkgs-fmt is archived upstream).
      formatter = forToolSystems (pkgs: pkgs.nixfmt-tree);
    };
}
