// TrafficSwitch: points the blue-green proxy's nginx upstream at a colour (components/host/switch-upstream.sh).
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import type { Colour } from "./config";
import { SwitchResult, parseSwitchResult, renderSwitch } from "./lib/blueGreen";
import { createdOnly } from "./lib/created";

export interface TrafficSwitchArgs {
  /** The proxy server's deploy-key connection. */
  connection: types.input.remote.ConnectionArgs;
  /** The proxy's host, for error messages. */
  proxyHost: string;
  colour: Colour;
  /** The colour's host:port (lib/blueGreen upstreamAddress). */
  upstream: string;
  healthPath: string;
}

export class TrafficSwitch extends pulumi.ComponentResource {
  readonly command: remote.Command;
  /** What the proxy reported: the colour it now serves and the one before. */
  readonly result: pulumi.Output<SwitchResult>;

  constructor(name: string, args: TrafficSwitchArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nixos-home-server:index:TrafficSwitch", name, {}, opts);
    this.command = new remote.Command(
      `${name}-command`,
      {
        connection: args.connection,
        create: renderSwitch({ colour: args.colour, upstream: args.upstream, healthPath: args.healthPath }),
        // Only the target (colour and address) moves traffic: a new release alone runs nothing here.
        triggers: [args.colour, args.upstream, args.healthPath],
        addPreviousOutputInEnv: false,
      },
      { parent: this },
    );
    this.result = createdOnly(this.command.stdout).apply((s) => parseSwitchResult(s, args.proxyHost));
    this.registerOutputs({ result: this.result });
  }
}
