# nixos-prod: imports the shared config and picks its services; flake.nix finds this directory by name.
{ ... }:
{
  imports = [ ../../default.nix ./hardware-configuration.nix ];

  networking.hostName = "nixos-prod";
  # x86_64-linux for a PC; "aarch64-linux" for a Raspberry Pi 4 or 5.
  nixpkgs.hostPlatform = "x86_64-linux";
  homeServer.network = {
    interface = "enp1s0"; # `ip link` on the server
    address = "192.168.1.10";
    gateway = "192.168.1.1";
  };
  homeServer.services = {
    web.enable = true;
    database.enable = true;
    samba.enable = true;
    remoteDesktop.enable = true;
  };
  homeServer.monitoring.enable = true;
  homeServer.backup = {
    enable = true;
    # On nixos-backup, over SSH: root here needs a key that user restic there accepts (README).
    repository = "sftp:restic@nixos-backup.home.arpa:/srv/backup/restic/nixos-prod";
  };
  # The release this machine was first installed with; never change it afterwards.
  system.stateVersion = "26.05";
}
