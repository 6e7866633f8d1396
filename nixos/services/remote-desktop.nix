# Remote desktop: xrdp on 3389 with a light desktop session.
{ config, lib, ... }:
let
  cfg = config.homeServer.services.remoteDesktop;
in
{
  options.homeServer.services.remoteDesktop = {
    enable = lib.mkEnableOption "xrdp with an Xfce session";
  };

  config = lib.mkIf cfg.enable {
    services.xserver.enable = true;
    services.xserver.desktopManager.xfce.enable = true;
    services.xrdp = {
      enable = true;
      openFirewall = true; # opens services.xrdp.port (3389)
      defaultWindowManager = "xfce4-session";
    };
  };
}
