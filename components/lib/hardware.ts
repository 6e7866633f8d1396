// The example hosts' placeholder hardware file: recognised by its marker, so the program refuses to
// deploy it (wrong disks and boot loader would leave a real machine unbootable).

/** The marker line of nixos/hardware/placeholder.nix and of each example host's stand-in file. */
export const PLACEHOLDER_HARDWARE_MARKER = "nixos-home-server:placeholder-hardware";
const PLACEHOLDER_IMPORT = /hardware\/placeholder\.nix/;

/** The files of one host directory (repo-relative path -> text) that are, or import, the placeholder. */
export function placeholderHardwareFiles(files: Readonly<Record<string, string>>): string[] {
  return Object.keys(files)
    .filter((f) => files[f].includes(PLACEHOLDER_HARDWARE_MARKER) || PLACEHOLDER_IMPORT.test(files[f]))
    .sort();
}

/** The problem reported for one such file: what it is and how to replace it. */
export function placeholderHardwareProblem(server: string, file: string): string {
  return (
    `${file} is the placeholder hardware file, not this machine's; deploying it would give the server the wrong disks and boot loader. ` +
    `On ${server} run \`nixos-generate-config --show-hardware-config\` and save its output as nixos/hosts/${server}/hardware-configuration.nix`
  );
}
