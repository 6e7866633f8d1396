# Networking: host name, static IPv4 (or DHCP when no address is given), NetworkManager.
{ config, lib, ... }:
let
  cfg = config.homeServer.network;
in
{
  options.homeServer.network = {
    interface = lib.mkOption {
      type = lib.types.str;
      default = "eth0";
      description = "Interface that gets the static address.";
    };
    address = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "192.168.1.10";
      description = "Static IPv4 address; null keeps DHCP.";
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
      networking.networkmanager.enable = true;
      networking.nameservers = cfg.nameservers;
    }
    (lib.mkIf (cfg.address != null) {
      networking.interfaces.${cfg.interface}.ipv4.addresses = [
        { address = cfg.address; prefixLength = cfg.prefixLength; }
      ];
      # NetworkManager leaves the statically configured interface to the NixOS scripts.
      networking.networkmanager.unmanaged = [ cfg.interface ];
    })
    (lib.mkIf (cfg.gateway != null) {
      networking.defaultGateway = { address = cfg.gateway; interface = cfg.interface; };
    })
  ];
}
