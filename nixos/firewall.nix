# Firewall: SSH, HTTP(S), RDP and SMB.
{ ... }:
{
  networking.firewall = {
    enable = true;
    allowedTCPPorts = [
      22 # ssh
      80 # http
      443 # https
      3389 # xrdp
      139 # netbios-ssn (samba)
      445 # microsoft-ds (samba)
    ];
  };
}
