# Shared configuration of every home server; each nixos/hosts/<name>/default.nix imports this.
{ lib, ... }:
{
  imports = [
    ./networking.nix
    ./users.nix
    ./ssh.nix
    ./firewall.nix
    ./monitoring.nix
    ./backup.nix
    ./services
  ];

  nix.settings.experimental-features = [ "nix-command" "flakes" ];
  # deploy.sh prunes old generations; keep the boot menu short as well, whichever loader the
  # host's hardware file enables (systemd-boot on a PC, extlinux on a Raspberry Pi).
  boot.loader.systemd-boot.configurationLimit = lib.mkDefault 20;
  boot.loader.generic-extlinux-compatible.configurationLimit = lib.mkDefault 20;
  time.timeZone = "UTC";
}
