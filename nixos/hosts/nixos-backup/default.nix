# nixos-backup: imports the shared config and picks its services; flake.nix finds this directory by name.
{ ... }:
{
  imports = [ ../../default.nix ./hardware-configuration.nix ];

  networking.hostName = "nixos-backup";
  # x86_64-linux for a PC; "aarch64-linux" for a Raspberry Pi 4 or 5.
  nixpkgs.hostPlatform = "x86_64-linux";
  homeServer.network = {
    interface = "enp1s0"; # `ip link` on the server
    address = "192.168.1.11";
    gateway = "192.168.1.1";
  };
  homeServer.services.samba = {
    enable = true;
    shares.backup = "/srv/backup";
  };
  homeServer.monitoring.enable = true;
  homeServer.backup = {
    enable = true;
    # A second disk, so the backup share survives the loss of the first one.
    repository = "/mnt/backup-disk/restic/nixos-backup";
  };
  # The release this machine was first installed with; never change it afterwards.
  system.stateVersion = "26.05";
}
