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
  };
}
