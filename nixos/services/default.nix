# Every service module; each is off until a host sets homeServer.services.<name>.enable.
{ ... }:
{
  imports = [
    ./web.nix
    ./proxy.nix
    ./database.nix
    ./samba.nix
    ./remote-desktop.nix
    ./development.nix
  ];
}
