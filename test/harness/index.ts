// The proving ground's public API: simulated NixOS hosts and release helpers.
export { startHosts, stopAllHosts, listHosts, cleanupLeftovers, SimHost, HOSTS_DIR } from "./hosts";
export type { Fault, StartOptions, SshOptions } from "./hosts";
export { BASE, makeRelease, packRelease, syncRelease, hostScript, parseResult } from "./release";
export type { ReleaseSpec } from "./release";
export { exec, must } from "./exec";
export type { ExecResult, ExecOptions } from "./exec";
