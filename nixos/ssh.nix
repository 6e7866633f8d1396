# SSH hardening: keys only, no root login; passwords only while bootstrapping, when asked for.
{ config, lib, ... }:
let
  cfg = config.homeServer.ssh;
  deployUser = config.homeServer.deploy.user;
in
{
  options.homeServer.ssh = {
    allowPasswordBootstrap = lib.mkEnableOption
      "password logins, for the first deploy with `bootstrap.password`; turn it off once the deploy key is in";
  };

  config = {
    services.openssh = {
      enable = true;
      openFirewall = true; # opens services.openssh.ports (22)
      settings = {
        PasswordAuthentication = cfg.allowPasswordBootstrap;
        KbdInteractiveAuthentication = false;
        # Key-only root login only when the stack deploys as root.
        PermitRootLogin = if deployUser == "root" then "prohibit-password" else "no";
        X11Forwarding = false;
        MaxAuthTries = 3;
      };
    };
  };
}
