# Web: nginx serving a default virtual host (Verify checks http://localhost/).
{ config, lib, pkgs, ... }:
let
  cfg = config.homeServer.services.web;
in
{
  options.homeServer.services.web = {
    enable = lib.mkEnableOption "nginx with a default virtual host";
    root = lib.mkOption {
      type = lib.types.path;
      default = pkgs.writeTextDir "index.html" "<h1>${config.networking.hostName}</h1>\n";
      description = "Document root of the default virtual host.";
    };
  };

  config = lib.mkIf cfg.enable {
    services.nginx = {
      enable = true;
      recommendedGzipSettings = true;
      recommendedOptimisation = true;
      virtualHosts.default = {
        default = true;
        root = cfg.root;
      };
    };
    # nixpkgs' nginx module opens no ports itself. Plain HTTP only: add 443 here together with a
    # TLS virtual host (enableACME/forceSSL), not before.
    networking.firewall.allowedTCPPorts = [ 80 ];
  };
}
