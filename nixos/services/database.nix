# Database: PostgreSQL with local (peer) access.
{ config, lib, pkgs, ... }:
let
  cfg = config.homeServer.services.database;
in
{
  options.homeServer.services.database = {
    enable = lib.mkEnableOption "PostgreSQL";
    databases = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      description = "Databases created with an owner role of the same name.";
    };
    passwordSecrets = lib.mkOption {
      type = lib.types.attrsOf lib.types.str;
      default = { };
      example = { app = "postgres-app"; };
      description = ''
        Role -> name of a secret uploaded by the deployer (stack config `secrets`, owner postgres) to
        /var/lib/nixos-home-server/secrets/<name>: the role's password, for clients that connect
        over TCP. The value never enters the Nix store.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    services.postgresql = {
      enable = true;
      # Pinned major version: its data directory only works with this major, so an upgrade is a
      # deliberate migration (pg_upgrade), never a side effect of a nixpkgs bump.
      package = pkgs.postgresql_16;
      ensureDatabases = cfg.databases;
      ensureUsers = map (name: { inherit name; ensureDBOwnership = true; }) cfg.databases;
    };

    # Sets each role's password from its secret file, after the server (and, in current nixpkgs,
    # postgresql-setup.service, which creates the ensureUsers roles) is up; ordering after a unit a
    # release does not have is harmless. List this unit in the secret's `restartUnits` so a changed
    # password is applied at once.
    systemd.services = lib.mkIf (cfg.passwordSecrets != { }) {
      homeserver-postgresql-passwords = {
        description = "Set PostgreSQL role passwords from /var/lib/nixos-home-server/secrets";
        after = [ "postgresql.service" "postgresql-setup.service" ];
        requires = [ "postgresql.service" ];
        wantedBy = [ "multi-user.target" ];
        serviceConfig = {
          Type = "oneshot";
          User = "postgres";
        };
        # The password reaches psql through psql's own backtick substitution of `cat FILE` and is
        # quoted by :'pw', so it is never in a command line; log_min_error_statement keeps a failed
        # statement (and the password in it) out of the server log.
        script = lib.concatStrings (lib.mapAttrsToList (role: secret: ''
          ${config.services.postgresql.package}/bin/psql --no-psqlrc -v ON_ERROR_STOP=1 <<'SQL'
          SET log_min_error_statement = PANIC;
          SET log_statement = 'none';
          \set pw `cat /var/lib/nixos-home-server/secrets/${secret}`
          ALTER ROLE "${role}" WITH PASSWORD :'pw';
          SQL
        '') cfg.passwordSecrets);
      };
    };
  };
}
