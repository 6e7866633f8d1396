// HostProbe's pure parts: the ssh invocation, host key pinning, and reading status.sh.
import { describe, expect, it } from "vitest";
import { isDrifted, knownHostsLine, parseObservation, sshArgs, statusCommand } from "../../components/hostProbe";

describe("HostProbe", () => {
  it("pins the host key and never falls back to a password or an agent", () => {
    const args = sshArgs({ host: "10.0.0.2", port: 2222, user: "deploy" }, "/t/key", "/t/kh", "sudo -n sh /x/status.sh");
    expect(args).toEqual(expect.arrayContaining(["StrictHostKeyChecking=yes", "UserKnownHostsFile=/t/kh", "BatchMode=yes", "IdentityAgent=none"]));
    expect(args.slice(-3)).toEqual(["--", "10.0.0.2", "sudo -n sh /x/status.sh"]);
    expect(args[args.indexOf("-p") + 1]).toBe("2222");
  });

  it("writes known_hosts lines with OpenSSH's bracket form for other ports", () => {
    expect(knownHostsLine("h.home.arpa", 22, "ssh-ed25519 AAAAC3 root@h")).toBe("h.home.arpa ssh-ed25519 AAAAC3\n");
    expect(knownHostsLine("10.0.0.2", 2222, " ssh-ed25519 AAAAC3 ")).toBe("[10.0.0.2]:2222 ssh-ed25519 AAAAC3\n");
  });

  it("asks the dispatcher for the status, whatever the user", () => {
    expect(statusCommand()).toBe("/var/lib/nixos-home-server/dispatch status");
  });

  it("reads the running and the last-deployed system, and names a missing key", () => {
    const line = "noise\nnhs-result status=ok current=43 store=/nix/store/b-sys deployed=/nix/store/a-sys report=all fine\n";
    const o = parseObservation("nixos-prod", line);
    expect(o).toEqual({ system: "/nix/store/b-sys", deployed: "/nix/store/a-sys" });
    expect(isDrifted(o)).toBe(true);
    expect(() => parseObservation("nixos-prod", "nhs-result status=ok store=/x")).toThrow('status.sh on server "nixos-prod": result line has no "deployed" key');
    expect(() => parseObservation("nixos-prod", "")).toThrow('status.sh on server "nixos-prod" printed no "nhs-result" line');
  });

  it("never lets words of the free-text report overwrite store or deployed", () => {
    const line = "nhs-result status=ok store=/nix/store/b-sys deployed=/nix/store/a-sys report=manual switch store=/nix/store/evil deployed=none\n";
    expect(parseObservation("nixos-prod", line)).toEqual({ system: "/nix/store/b-sys", deployed: "/nix/store/a-sys" });
    // A report before the keys would hide them: the key is then missing, not taken from the text.
    expect(() => parseObservation("nixos-prod", "nhs-result status=ok report=store=/x deployed=/y")).toThrow('has no "store" key');
  });

  it("sees no drift on a host this tool never deployed, nor on one running what it deployed", () => {
    expect(isDrifted({ system: "/nix/store/a", deployed: "/nix/store/a" })).toBe(false);
    expect(isDrifted({ system: "/nix/store/a", deployed: "none" })).toBe(false);
  });
});
