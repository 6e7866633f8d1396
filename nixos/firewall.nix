# Firewall: on, and closed by default. Each module opens only its own ports (ssh.nix,
# services/*.nix, monitoring.nix), so a host without xrdp never opens 3389.
{ ... }:
{
  networking.firewall.enable = true;
}
