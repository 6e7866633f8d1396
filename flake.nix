# nixos-home-server: the home servers' NixOS configurations and the deploy tooling.
{
  description = "NixOS home servers deployed by Pulumi (see Pulumi.<stack>.yaml)";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";
  };

  outputs = { self, nixpkgs, ... }:
    let
      system = "x86_64-linux";
      lib = nixpkgs.lib;
      # One configuration per nixos/hosts/<name>/ directory. A synced release carries only its own
      # host directory, so on a server this yields exactly that server.
      hostNames = builtins.attrNames (lib.filterAttrs
        (name: type: type == "directory" && builtins.pathExists (./nixos/hosts + "/${name}/default.nix"))
        (builtins.readDir ./nixos/hosts));
      pkgs = nixpkgs.legacyPackages.${system};
    in
    {
      # NixOS configurations, one per server in the Pulumi stacks.
      # Deployed by Pulumi; by hand: 'nixos-rebuild switch --flake .#<name> --target-host deploy@<host> --use-remote-sudo'.
      nixosConfigurations = lib.genAttrs hostNames (name:
        lib.nixosSystem {
          inherit system;
          modules = [ (./nixos/hosts + "/${name}") ];
        });

      # Deploy tools: 'nix develop', then 'npm ci' and 'npm run pulumi -- preview -s staging'.
      devShells.${system}.default = pkgs.mkShell {
        packages = with pkgs; [ nodejs_20 pulumi openssh shellcheck nixos-rebuild ];
      };

      # Formatter for the .nix files: 'nix fmt'.
      formatter.${system} = pkgs.nixpkgs-fmt;
    };
}
