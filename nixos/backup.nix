# Backups: restic snapshots of the PostgreSQL dumps and the Samba shares, to a repository given per
# host. Units: postgresqlBackup.service (pg_dumpall, nightly) and restic-backups-homeserver.timer.
{ config, lib, ... }:
let
  cfg = config.homeServer.backup;
  services = config.homeServer.services;
  dumpDirectory = config.services.postgresqlBackup.location;
  paths =
    lib.optional services.database.enable dumpDirectory
    ++ lib.optionals services.samba.enable (lib.attrValues services.samba.shares);
in
{
  options.homeServer.backup = {
    enable = lib.mkEnableOption "restic backups of the database dumps and the Samba shares";
    repository = lib.mkOption {
      type = lib.types.str;
      default = throw ''
        homeServer.backup.repository is not set for host "${config.networking.hostName}".
        Set where restic keeps this host's snapshots in nixos/hosts/${config.networking.hostName}/default.nix,
        for example a second disk ("/mnt/backup/restic") or another machine ("sftp:restic@nas.home.arpa:/srv/restic/${config.networking.hostName}").'';
      defaultText = lib.literalMD "none: every host with backups must set it";
      example = "sftp:restic@nixos-backup.home.arpa:/srv/backup/restic/nixos-prod";
      description = "restic repository of this host (a path or any restic repository URL).";
    };
    passwordFile = lib.mkOption {
      type = lib.types.str;
      # Outside the Nix store (world-readable) and outside the release: written once per host by
      # the administrator (see the README), later by the secrets upload.
      default = "/var/lib/nixos-home-server/secrets/restic-password";
      description = "File holding the repository password, root-only.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = paths != [ ];
        message = "homeServer.backup is enabled on ${config.networking.hostName}, but neither the database nor Samba is: there is nothing to back up.";
      }
    ];

    # pg_dumpall of every database at 01:15 (its default startAt), before the snapshot below.
    services.postgresqlBackup.enable = services.database.enable;

    services.restic.backups.homeserver = {
      inherit paths;
      inherit (cfg) repository passwordFile;
      initialize = true;
      timerConfig = {
        OnCalendar = "02:30";
        # A server that was off at 02:30 backs up when it comes back.
        Persistent = true;
      };
      pruneOpts = [ "--keep-daily 7" "--keep-weekly 5" "--keep-monthly 12" ];
    };

    # 0711, as components/host/secrets.sh leaves it: a service can open its own file by path, nobody
    # can list the directory. tmpfiles resets the mode at every boot, so the two must agree.
    systemd.tmpfiles.rules = [ "d /var/lib/nixos-home-server/secrets 0711 root root -" ];
  };
}
