// The activation modes a deploy can use: what `nixos-rebuild <mode>` does on the host.

/**
 * How the new configuration is activated (cf. colmena's `Goal`).
 * - `switch`: build, activate now and make it the boot default. The normal deploy.
 * - `boot`: build and make it the boot default; takes effect on the next reboot.
 * - `test`: build and activate now, but do not make it the boot default; a reboot returns to the old one.
 * - `dry-activate`: build and print what activation would change; changes nothing, arms no watchdog.
 */
export type Mode = "switch" | "boot" | "test" | "dry-activate";

export const MODES: readonly Mode[] = ["switch", "boot", "test", "dry-activate"];
