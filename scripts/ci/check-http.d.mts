// Types for check-http.mjs (imported by the unit tests).
export function externalUrl(url: string, host: string): string;
export function httpChecks(servers: unknown[]): { server: string; url: string; status: number }[];
export function serversFromConfigJson(text: string): any[];
