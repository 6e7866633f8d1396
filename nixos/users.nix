# Users: the deploy user with passwordless sudo and the Pulumi deploy key, declared so a rebuild
# never locks the deployer out. nixos/generated/deploy.json is written by Pulumi into each release.
{ config, lib, ... }:
let
  cfg = config.homeServer.deploy;
  generated = ./generated/deploy.json;
  # Absent in a plain checkout (the file is git-ignored); present in every synced release.
  deploy =
    if builtins.pathExists generated
    then builtins.fromJSON (builtins.readFile generated)
    else null;
in
{
  options.homeServer.deploy = {
    user = lib.mkOption {
      type = lib.types.str;
      default = if deploy != null then deploy.user else "deploy";
      description = "SSH user Pulumi deploys as (the stack's `user`).";
    };
    extraAuthorizedKeys = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      description = "Administrators' own keys for the deploy user.";
    };
  };

  config = {
    users.mutableUsers = lib.mkDefault true;

    users.users.${cfg.user} = lib.mkMerge [
      (lib.mkIf (cfg.user != "root") {
        isNormalUser = true;
        extraGroups = [ "wheel" ];
      })
      {
        openssh.authorizedKeys.keys =
          cfg.extraAuthorizedKeys
          ++ lib.optional (deploy != null) deploy.authorizedKey;
      }
    ];

    # The host scripts run through `sudo -n`; a password prompt would hang the deploy.
    security.sudo.extraRules = lib.mkIf (cfg.user != "root") [
      {
        users = [ cfg.user ];
        commands = [ { command = "ALL"; options = [ "NOPASSWD" ]; } ];
      }
    ];
  };
}
