# nixos-home-server:placeholder-hardware
# Replace this whole file with this machine's own: on nixos-prod run
#   nixos-generate-config --show-hardware-config > hardware-configuration.nix
# and copy the result here (nixos/hosts/nixos-prod/hardware-configuration.nix). Until then the deploy
# refuses this host.
{ imports = [ ../../hardware/placeholder.nix ]; }
