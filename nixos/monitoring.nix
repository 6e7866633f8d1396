# Monitoring: the Prometheus node exporter (port 9100, unit prometheus-node-exporter.service) with
# its textfile collector reading the directory where the host scripts write deploy metrics.
{ config, lib, ... }:
let
  cfg = config.homeServer.monitoring;
in
{
  options.homeServer.monitoring = {
    enable = lib.mkEnableOption "the Prometheus node exporter";
    textfileDirectory = lib.mkOption {
      type = lib.types.str;
      # The host scripts (components/host/) write *.prom files here; keep the two in step.
      default = "/var/lib/nixos-home-server/metrics";
      readOnly = true;
      description = "Directory of the textfile collector: *.prom files written by the deploy scripts.";
    };
  };

  config = lib.mkIf cfg.enable {
    services.prometheus.exporters.node = {
      enable = true;
      # textfile is on by default in node_exporter; listed so the flag below is not a surprise.
      # systemd adds unit states (the backup timer, failed units) to what a Prometheus server sees.
      enabledCollectors = [ "textfile" "systemd" ];
      extraFlags = [ "--collector.textfile.directory=${cfg.textfileDirectory}" ];
      # Closed by default: the exporter is unauthenticated. A Prometheus server on the LAN needs
      # `services.prometheus.exporters.node.openFirewall = true;` in the host's default.nix.
      openFirewall = lib.mkDefault false;
    };
    # World-readable: the exporter runs as its own user; writers are root (the deploy scripts).
    systemd.tmpfiles.rules = [ "d ${cfg.textfileDirectory} 0755 root root -" ];
  };
}
