# Samba: file shares for the home network (unit samba-smbd.service). openFirewall opens what
# nixpkgs lists for it: TCP 139 and 445, UDP 137 and 138 (NetBIOS name and datagram service).
{ config, lib, ... }:
let
  cfg = config.homeServer.services.samba;
in
{
  options.homeServer.services.samba = {
    enable = lib.mkEnableOption "Samba file shares";
    shares = lib.mkOption {
      type = lib.types.attrsOf lib.types.str;
      default = { public = "/srv/samba/public"; };
      description = "Share name -> directory.";
    };
  };

  config = lib.mkIf cfg.enable {
    services.samba = {
      enable = true;
      openFirewall = true;
      settings = {
        global = {
          "server string" = config.networking.hostName;
          "map to guest" = "never";
        };
      } // lib.mapAttrs (_: path: {
        inherit path;
        "read only" = "no";
        "browseable" = "yes";
      }) cfg.shares;
    };
    systemd.tmpfiles.rules = lib.mapAttrsToList (_: path: "d ${path} 0775 root users -") cfg.shares;
  };
}
