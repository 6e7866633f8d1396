# nixos-home-server:placeholder-hardware
# Stand-in hardware of the example hosts: a QEMU guest with disks labelled "nixos" and "boot".
# It only makes the examples evaluate. The deploy refuses a host that still imports it (the wrong
# file systems or boot loader would leave a real machine unbootable); replace the host's
# hardware-configuration.nix as the README says.
{ modulesPath, ... }:
{
  imports = [ (modulesPath + "/profiles/qemu-guest.nix") ];
  boot.loader.systemd-boot.enable = true;
  boot.loader.efi.canTouchEfiVariables = true;
  fileSystems."/" = { device = "/dev/disk/by-label/nixos"; fsType = "ext4"; };
  fileSystems."/boot" = { device = "/dev/disk/by-label/boot"; fsType = "vfat"; };
}
