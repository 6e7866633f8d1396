# nixos-staging: imports the shared config and picks its services; flake.nix finds this directory by name.
{ ... }:
{
  imports = [ ../../default.nix ./hardware.nix ];

  networking.hostName = "nixos-staging";
  homeServer.network = {
    address = "192.168.1.20";
    gateway = "192.168.1.1";
  };
  homeServer.services = {
    web.enable = true;
    database.enable = true;
    development.enable = true;
  };
  system.stateVersion = "24.11";
}
