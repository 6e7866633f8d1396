// NixosServer: one server's deployment graph, DeployKey -> KeyAuthorization -> ConfigSync (+ HostProbe) -> Rebuild -> Verify.
import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import { FleetConfig, ServerConfig } from "./config";
import { BootstrapCredentials, Endpoint, bootstrapConnection, deployConnection } from "./connection";
import { DeployKey } from "./deployKey";
import { KeyAuthorization } from "./keyAuthorization";
import { createConfigSync, reportedRelease, syncedRelease } from "./configSync";
import { createRebuild, deployResult } from "./rebuild";
import { createVerify, verifyResult } from "./verify";
import { HostProbe } from "./hostProbe";
import * as path from "path";
import { ReleaseError, SourceTree, packRelease, readSourceTree, releaseEntries, writeReleaseFile } from "./lib/release";
import { deployKeyMarker } from "./lib/sshKey";
import { agentSocketPath } from "./lib/sshAgent";
import { createdOnly } from "./lib/created";
import { createSecrets, secretFilesOf } from "./secrets";
import { EventSummary, summarizeLastEvent } from "./lib/eventSummary";

export interface NixosServerArgs {
  /** The validated server entry from stack config. */
  server: ServerConfig;
  fleet: FleetConfig;
  /** Bootstrap credentials resolved from config (secrets as secret Outputs). */
  credentials: BootstrapCredentials;
  /** Project root holding flake.nix and nixos/. */
  root: string;
  /** The release sources' commit label (lib/gitCommit.ts commitLabel), for the host's events. */
  commit: string;
  /** Resolves a secret config key (a server's secrets, notification credentials) to its secret value. */
  secretValue: (key: string) => pulumi.Output<string>;
  /**
   * A blue-green colour this run leaves alone: its sync, rebuild and verify keep the inputs they
   * last ran with (ignoreChanges), so no new release reaches it; it stays what it was, the rollback.
   */
  untouched?: boolean;
}

/**
 * The inputs an untouched server's commands keep from the last run: nothing of them runs again.
 * `source` and `remotePath` are the release upload's (CopyToRemote); the commands have neither.
 */
const UNTOUCHED: pulumi.CustomResourceOptions = { ignoreChanges: ["create", "stdin", "triggers", "source", "remotePath"] };

export class NixosServer extends pulumi.ComponentResource {
  readonly deployKey: DeployKey;
  readonly keyAuthorization: KeyAuthorization;
  /** Uploads the release file (CopyToRemote); configSync then unpacks it. */
  readonly upload: remote.CopyToRemote;
  readonly configSync: remote.Command;
  readonly probe: HostProbe;
  readonly rebuild: remote.Command;
  readonly verify: remote.Command;
  /** Uploads the server's secret files and notification settings; absent when it has none. */
  readonly secrets: remote.Command;
  /** The host's last event for this deploy: result, generations, durations by phase, commit. */
  readonly lastEvent: pulumi.Output<EventSummary>;

  /** Generation number the host switched to. */
  readonly generation: pulumi.Output<number>;
  readonly storePath: pulumi.Output<string>;
  /** sha256 of the synced release; also its directory name on the host. */
  readonly configHash: pulumi.Output<string>;
  /** From the host's result line (the host's clock); null if the host script does not report it. */
  readonly deployedAt: pulumi.Output<string | null>;
  /** Verify's report, e.g. "all 5 checks pass on generation 43". */
  readonly verification: pulumi.Output<string>;
  readonly publicKey: pulumi.Output<string>;
  /** The deploy key's connection to this server (the blue-green switch runs on the proxy with it). */
  readonly deployConnection: ReturnType<typeof deployConnection>;

  constructor(name: string, args: NixosServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nixos-home-server:index:NixosServer", name, {}, opts);
    const s = args.server;
    const endpoint: Endpoint = {
      host: s.host,
      port: s.port,
      user: s.user,
      hostKey: s.hostKey,
      perDialTimeoutSeconds: s.perDialTimeoutSeconds,
      dialErrorLimit: s.dialErrorLimit,
    };

    // Each stack's key has its own marker, so two stacks on one host keep both keys and meet only at
    // the host's deploy lock.
    const marker = deployKeyMarker(pulumi.getStack(), s.name);
    const from = args.fleet.deployFrom;
    const agentSockets = { current: agentSocketPath(pulumi.getStack(), s.name, "current"), previous: agentSocketPath(pulumi.getStack(), s.name, "previous") };
    this.deployKey = new DeployKey(`${name}-deploy-key`, { comment: marker, rotation: s.deployKeyRotation, from, agentSockets }, { parent: this });
    const deployConn = deployConnection(endpoint, this.deployKey.agentSocketPath);
    this.deployConnection = deployConn;
    const keep = args.untouched ? UNTOUCHED : {};

    this.keyAuthorization = new KeyAuthorization(
      `${name}-key-authorization`,
      {
        bootstrap: bootstrapConnection(endpoint, args.credentials),
        deploy: deployConn,
        previous: this.deployKey.previousAgentSocketPath && deployConnection(endpoint, this.deployKey.previousAgentSocketPath),
        user: s.user,
        rotation: s.deployKeyRotation,
        authorizedKey: this.deployKey.authorizedKey,
        previousAuthorizedKey: this.deployKey.previousAuthorizedKey,
        publicKey: this.deployKey.publicKey,
        from,
        marker,
      },
      { parent: this },
    );

    const tree = sourceTree(args.root);
    const releaseFile = this.deployKey.authorizedKey.apply((authorizedKey) => {
      const release = packRelease(releaseEntries(tree, s.name, { user: s.user, authorizedKey }));
      return { hash: release.hash, path: writeReleaseFile(path.join(args.root, ".nhs-releases"), release) };
    });
    const hash = releaseFile.apply((r) => r.hash);

    const sync = createConfigSync(
      `${name}-config-sync`,
      {
        connection: deployConn,
        host: s.host,
        user: s.user,
        hash,
        tarballPath: releaseFile.apply((r) => r.path),
        keepReleases: args.fleet.keepReleases,
        uploadAfter: this.keyAuthorization.keyInstalled,
      },
      { parent: this, dependsOn: [this.keyAuthorization.loginTest], ...keep },
    );
    this.upload = sync.upload;
    this.configSync = sync.receive;
    // Parsed so a host that stored the release under another hash fails here, before the rebuild.
    // An untouched colour keeps the release it has, which is what it reports.
    const reported = args.untouched ? reportedRelease(this.configSync, s.host) : undefined;
    const releaseDir = reported ? reported.apply((r) => r.release) : syncedRelease(this.configSync, s.host, hash);

    // Every server has one, even with nothing to upload, so removing the last secret removes it on the host.
    this.secrets = createSecrets(
      `${name}-secrets`,
      { connection: deployConn, files: secretFilesOf(s, args.fleet, args.secretValue) },
      { parent: this, dependsOn: [this.configSync] },
    );

    // Reads what the host runs; a refresh that finds drift replaces it, and its new id redeploys.
    // It belongs to the sync step (the host's side of the config), so a server keeps five stages.
    this.probe = new HostProbe(
      `${name}-probe`,
      { name: s.name, host: s.host, port: s.port, user: s.user, hostKey: s.hostKey, privateKey: this.deployKey.keySeed },
      { parent: this.configSync, dependsOn: [this.configSync] },
    );

    this.rebuild = createRebuild(
      `${name}-rebuild`,
      {
        connection: deployConn,
        host: s.host,
        user: s.user,
        deploy: hash.apply((h) => ({
          name: s.name,
          hash: h,
          mode: s.mode,
          confirmTimeoutSeconds: s.confirmTimeoutSeconds,
          activationTimeoutSeconds: s.activationTimeoutSeconds,
          keepGenerations: args.fleet.keepGenerations,
          minFreeMb: s.health.minFreeMb,
          commit: args.commit,
        })),
        redeployToken: this.probe.id,
      },
      { parent: this, dependsOn: [this.probe, this.secrets], ...keep },
    );
    const deployed = deployResult(this.rebuild, s.host);

    this.verify = createVerify(
      `${name}-verify`,
      {
        connection: deployConn,
        host: s.host,
        user: s.user,
        rebuildResult: this.rebuild.stdout,
        verify: pulumi.all([hash, deployed.generation]).apply(([h, generation]) => ({
          name: s.name,
          hash: h,
          retries: s.health.retries,
          intervalSeconds: s.health.intervalSeconds,
          timeoutSeconds: s.health.timeoutSeconds,
          units: s.health.units,
          http: s.health.http,
          commands: s.health.commands,
          journal: s.health.journal,
          minFreeMb: s.health.minFreeMb,
          generation,
        })),
      },
      { parent: this, dependsOn: [this.rebuild], ...keep },
    );
    const verified = verifyResult(this.verify, s.host);

    this.generation = deployed.generation;
    this.storePath = deployed.storePath;
    this.configHash = reported ? reported.apply((r) => r.hash) : pulumi.all([hash, releaseDir]).apply(([h]) => h);
    this.deployedAt = deployed.apply((d) => d.deployedAt ?? null);
    this.verification = verified.report;
    this.publicKey = this.deployKey.publicKey;
    this.lastEvent = pulumi.all([createdOnly(this.rebuild.stdout), createdOnly(this.verify.stdout)]).apply(([d, v]) => summarizeLastEvent(d, v, s.host));
    this.registerOutputs({
      lastEvent: this.lastEvent,
      generation: this.generation,
      storePath: this.storePath,
      configHash: this.configHash,
      deployedAt: this.deployedAt,
      verification: this.verification,
      publicKey: this.publicKey,
    });
  }
}


const trees = new Map<string, SourceTree>();

/**
 * The project's sources, read and checked once per program run for every server. A path a release
 * cannot carry stops the run here, named, before any resource is registered.
 */
function sourceTree(root: string): SourceTree {
  let tree = trees.get(root);
  if (!tree) {
    try {
      tree = readSourceTree(root);
    } catch (err) {
      if (err instanceof ReleaseError) throw new pulumi.RunError(err.message);
      throw err;
    }
    trees.set(root, tree);
  }
  return tree;
}
