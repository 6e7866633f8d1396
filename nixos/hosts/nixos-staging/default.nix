# nixos-staging: imports the shared config and picks its services; flake.nix finds this directory by name.
{ ... }:
{
  imports = [ ../../default.nix ./hardware-configuration.nix ];

  networking.hostName = "nixos-staging";
  # x86_64-linux for a PC; "aarch64-linux" for a Raspberry Pi 4 or 5.
  nixpkgs.hostPlatform = "x86_64-linux";
  homeServer.network = {
    interface = "enp1s0"; # `ip link` on the server
    address = "192.168.1.20";
    gateway = "192.168.1.1";
  };
  homeServer.services = {
    web.enable = true;
    database.enable = true;
    development.enable = true;
  };
  homeServer.monitoring.enable = true;
  homeServer.backup = {
    enable = true;
    # Staging keeps its snapshots on its own disk; production sends them to another machine.
    repository = "/srv/restic/nixos-staging";
  };
  # The release this machine was first installed with; never change it afterwards.
  system.stateVersion = "26.05";
}
