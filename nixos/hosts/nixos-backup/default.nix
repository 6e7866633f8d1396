# nixos-backup: imports the shared config and picks its services; flake.nix finds this directory by name.
{ ... }:
{
  imports = [ ../../default.nix ./hardware.nix ];

  networking.hostName = "nixos-backup";
  homeServer.network = {
    address = "192.168.1.11";
    gateway = "192.168.1.1";
  };
  homeServer.services.samba = {
    enable = true;
    shares.backup = "/srv/backup";
  };
  system.stateVersion = "24.11";
}
