# Development: tools for working on the server itself.
{ config, lib, pkgs, ... }:
let
  cfg = config.homeServer.services.development;
in
{
  options.homeServer.services.development = {
    enable = lib.mkEnableOption "development tools (git, editors, compilers)";
  };

  config = lib.mkIf cfg.enable {
    environment.systemPackages = with pkgs; [
      git
      vim
      tmux
      gcc
      gnumake
      nodejs_22 # Node.js 20 reached its end of life before NixOS 26.05
      python3
      jq
      ripgrep
    ];
  };
}
