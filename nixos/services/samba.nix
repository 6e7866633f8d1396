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
    users = lib.mkOption {
      type = lib.types.attrsOf lib.types.str;
      default = { };
      example = { alice = "samba-alice"; };
      description = ''
        Samba user (an existing Unix user) -> name of a secret uploaded by the deployer (stack config
        `secrets`) to /var/lib/nixos-home-server/secrets/<name>: that user's Samba password.
      '';
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

    # Samba keeps its own password database (there is no declarative option for it in nixpkgs):
    # each listed user's password is (re)set from its secret file. printf is a shell builtin, so
    # the password is never in a command line. List this unit in the secret's `restartUnits`.
    systemd.services = lib.mkIf (cfg.users != { }) {
      homeserver-samba-passwords = {
        description = "Set Samba passwords from /var/lib/nixos-home-server/secrets";
        after = [ "samba-smbd.service" ];
        wantedBy = [ "multi-user.target" ];
        path = [ config.services.samba.package ];
        serviceConfig.Type = "oneshot";
        script = lib.concatStrings (lib.mapAttrsToList (user: secret: ''
          pw=$(cat /var/lib/nixos-home-server/secrets/${secret})
          printf '%s\n%s\n' "$pw" "$pw" | smbpasswd -s -a ${user}
        '') cfg.users);
      };
    };
  };
}
