// Blue-green: which colour this run deploys, which it leaves untouched, and the switch command.
import { createHash } from "crypto";
import { isIP } from "net";
import type { BlueGreenConfig, Colour } from "../config";
import { parseResultLine } from "./result";
import { renderVerb } from "./remoteCommand";

/** What the last run recorded in the `blueGreen` stack output. */
export interface BlueGreenState {
  /** The colour the proxy sends traffic to. */
  serving: Colour;
  /** The pair's release (pairRelease) the serving colour was deployed with. */
  release: string;
}

export interface BlueGreenPlan {
  /** The colour the switch points the proxy at: `live`. */
  target: Colour;
  /** Colours this run deploys the current tree to (both on the first run, then at most `live`). */
  deploy: Colour[];
  /** Colours whose deploy steps keep their last inputs (nothing reaches them). */
  untouched: Colour[];
}

export const other = (c: Colour): Colour => (c === "blue" ? "green" : "blue");

/** One identity for the tree both colours would get: a change to either colour's release changes it. */
export function pairRelease(blueHash: string, greenHash: string): string {
  return createHash("sha256").update(`blue ${blueHash}\ngreen ${greenHash}\n`).digest("hex");
}

/**
 * The run's plan. `previous` is the last run's `blueGreen` output (none on a first run, which deploys
 * both colours). An unchanged release only moves traffic (a switch back); a changed one goes to `live`,
 * which must be the idle colour: deploying onto the colour that serves is refused, before any host is touched.
 */
export function planBlueGreen(b: BlueGreenConfig, release: string, previous: BlueGreenState | undefined): BlueGreenPlan {
  if (!previous) return { target: b.live, deploy: ["blue", "green"], untouched: [] };
  if (previous.release === release) return { target: b.live, deploy: [], untouched: ["blue", "green"] };
  if (b.live === previous.serving) {
    throw new Error(
      `blueGreen: live: the release changed, but live is still "${b.live}", the colour that serves now ("${b[b.live]}"). ` +
        `Blue-green deploys to the idle colour: set live: ${other(b.live)} to deploy this release to "${b[other(b.live)]}" and switch traffic to it once it passes Verify`,
    );
  }
  return { target: b.live, deploy: [b.live], untouched: [previous.serving] };
}

/** The upstream address nginx takes for a server's host (IPv6 literals in brackets). */
export function upstreamAddress(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

export interface SwitchArgs {
  colour: Colour;
  /** host:port of the colour (upstreamAddress). */
  upstream: string;
  healthPath: string;
}

/** `dispatch switch-upstream COLOUR ADDR:PORT PATH` on the proxy (components/host/switch.sh). */
export function renderSwitch(a: SwitchArgs): string {
  return renderVerb("switch-upstream", [a.colour, a.upstream, a.healthPath]);
}

export interface SwitchResult {
  colour: Colour;
  upstream: string;
  /** The colour the proxy served before ("none" before the first switch). */
  previous: string;
}

export function parseSwitchResult(stdout: string, host: string): SwitchResult {
  const f = parseResultLine(stdout, { step: "switch-upstream", host, required: ["status", "colour", "upstream", "previous"] });
  if (f.status !== "ok") throw new Error(`switch-upstream on ${host}: status=${f.status}`);
  if (f.colour !== "blue" && f.colour !== "green") throw new Error(`switch-upstream on ${host}: colour ${JSON.stringify(f.colour)} is not blue or green`);
  return { colour: f.colour, upstream: f.upstream, previous: f.previous };
}
