# Users: the deploy user and the Pulumi deploy key, declared so a rebuild never locks the deployer
# out. The key runs only the dispatcher (its authorized_keys line carries `restrict` and the forced
# command), and sudo lets the user run only the dispatcher. nixos/generated/deploy.json is written by
# Pulumi into each release.
{ config, lib, pkgs, ... }:
let
  cfg = config.homeServer.deploy;
  # The deploy key's forced command (components/host/dispatch.sh; a release carries it as .nhs/).
  dispatchPath = "/var/lib/nixos-home-server/dispatch";
  dispatchSource =
    if builtins.pathExists ../.nhs/dispatch.sh
    then ../.nhs/dispatch.sh
    else ../components/host/dispatch.sh;
  dispatcher = pkgs.writeScript "nhs-dispatch" (builtins.readFile dispatchSource);
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

    # Not in wheel: the deploy user's only privilege is the dispatcher rule below.
    users.users.${cfg.user} = lib.mkMerge [
      (lib.mkIf (cfg.user != "root") {
        isNormalUser = true;
      })
      {
        openssh.authorizedKeys.keys =
          cfg.extraAuthorizedKeys
          ++ lib.optional (deploy != null) deploy.authorizedKey;
      }
    ];

    # The dispatcher's root half, and nothing else (renders "USER ALL=(root) NOPASSWD: PATH");
    # `sudo -n`, because a password prompt would hang the deploy.
    security.sudo.extraRules = lib.mkIf (cfg.user != "root") [
      {
        users = [ cfg.user ];
        runAs = "root";
        commands = [ { command = dispatchPath; options = [ "NOPASSWD" ]; } ];
      }
    ];

    # A copy, not a link into the store: it must survive a rollback to a generation without this
    # module and a garbage collection, or the deploy key's forced command would be gone. Only root
    # (a NixOS activation) writes it; the deploy key cannot change it without deploying a config.
    system.activationScripts.nhs-dispatch = ''
      ${pkgs.coreutils}/bin/install -D -m 0755 -o root -g root ${dispatcher} ${dispatchPath}
    '';
  };
}
