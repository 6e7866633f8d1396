# Blue-green proxy: nginx sends every request to the colour the last switch chose
# (components/host/switch-upstream.sh). The upstream is a file outside the store, so a switch is a
# reload (`nginx -t`, then SIGHUP: the unit's ExecReload), never a rebuild.
{ config, lib, pkgs, ... }:
let
  cfg = config.homeServer.services.proxy;
  dir = "/var/lib/nixos-home-server/proxy";
  # Until the first switch: an upstream nothing listens on, so the proxy answers 502 and names no colour.
  initial = pkgs.writeText "nhs-upstream-initial.conf" ''
    # nhs-colour=none
    upstream nhs_bluegreen {
      server 127.0.0.1:1;
    }
    map "" $nhs_colour {
      default none;
    }
  '';
in
{
  options.homeServer.services.proxy = {
    enable = lib.mkEnableOption "the blue-green reverse proxy (nginx in front of the stack's blue and green servers)";
    port = lib.mkOption {
      type = lib.types.port;
      default = 80;
      description = "Port the proxy listens on (plain HTTP).";
    };
  };

  config = lib.mkIf cfg.enable {
    services.nginx = {
      enable = true;
      # http context, before the virtual hosts: `upstream nhs_bluegreen` and `$nhs_colour`.
      commonHttpConfig = "include ${dir}/upstream.conf;";
      virtualHosts.nhs-proxy = {
        default = true;
        listen = [ { addr = "0.0.0.0"; port = cfg.port; } ];
        locations."/" = {
          proxyPass = "http://nhs_bluegreen";
          # Which colour answered (the switch checks it), and its address.
          extraConfig = ''
            add_header X-NHS-Colour $nhs_colour always;
            add_header X-NHS-Upstream $upstream_addr always;
          '';
        };
      };
    };
    networking.firewall.allowedTCPPorts = [ cfg.port ];
    systemd.tmpfiles.rules = [
      "d ${dir} 0755 root root -"
      # The switch reads the port it checks through; rewritten on every activation.
      "f+ ${dir}/port 0644 root root - ${toString cfg.port}"
      # Only when there is none: the last switch's upstream survives rebuilds and reboots.
      "C ${dir}/upstream.conf - - - - ${initial}"
    ];
  };
}
