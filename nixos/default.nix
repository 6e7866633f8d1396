# Shared configuration of every home server; each nixos/hosts/<name>/default.nix imports this.
{ ... }:
{
  imports = [
    ./networking.nix
    ./users.nix
    ./ssh.nix
    ./firewall.nix
    ./services
  ];

  nix.settings.experimental-features = [ "nix-command" "flakes" ];
  # deploy.sh prunes old generations; keep the boot menu short as well.
  boot.loader.systemd-boot.configurationLimit = 20;
  time.timeZone = "UTC";
}
