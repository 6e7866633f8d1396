# Networking: host name, one wired interface with a static IPv4 address (or DHCP when no address
# is given). Scripted networking, no NetworkManager: a server has one interface to configure.
{ config, lib, ... }:
let
  cfg = config.homeServer.network;
in
{
  options.homeServer.network = {
    interface = lib.mkOption {
      type = lib.types.str;
      # Required, per host: there is no safe guess. Current machines use predictable names (enp1s0,
      # ens3, end0 on a Raspberry Pi), and a wrong name leaves the server without its address.
      default = throw ''
        homeServer.network.interface is not set for host "${config.networking.hostName}".
        Run `ip link` on the server and set the name of its wired interface (for example "enp1s0")
        in nixos/hosts/${config.networking.hostName}/default.nix:
          homeServer.network.interface = "enp1s0";'';
      defaultText = lib.literalMD "none: every host must set it (`ip link` on the server lists the names)";
      example = "enp1s0";
      description = "Name of the wired interface that gets the address (see `ip link` on the server).";
    };
    address = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "192.168.1.10";
      description = "Static IPv4 address; null keeps DHCP on the interface.";
    };
    prefixLength = lib.mkOption {
      type = lib.types.int;
      default = 24;
    };
    gateway = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "192.168.1.1";
    };
    nameservers = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ "1.1.1.1" "9.9.9.9" ];
    };
  };

  config = lib.mkMerge [
    {
      # Only the named interface is configured; nixos-generate-config's hardware file turns DHCP on
      # for every interface with mkDefault, which this overrides.
      networking.useDHCP = false;
      networking.interfaces.${cfg.interface}.useDHCP = cfg.address == null;
      networking.nameservers = cfg.nameservers;
    }
    (lib.mkIf (cfg.address != null) {
      networking.interfaces.${cfg.interface}.ipv4.addresses = [
        { address = cfg.address; prefixLength = cfg.prefixLength; }
      ];
    })
    (lib.mkIf (cfg.gateway != null) {
      networking.defaultGateway = { address = cfg.gateway; interface = cfg.interface; };
    })
  ];
}
