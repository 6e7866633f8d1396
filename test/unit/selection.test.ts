// Selection for `npm run deploy`: matching, targets, arguments and the per-server table.
import { describe, expect, it } from "vitest";
import { SelectionError, renderTable, selectServers, serverOf, serverTargets, tableRow } from "../../components/lib/selection";
import { parseDeployArgs } from "../../scripts/deploy";

const servers = [
  { name: "nixos-prod", tags: ["production", "web"] },
  { name: "nixos-backup", tags: ["production", "storage"] },
  { name: "nixos-prod-2", tags: ["web"] },
];

describe("selectServers", () => {
  it("selects by name and tag, in stack order, without duplicates; nothing given = all", () => {
    expect(selectServers("p", servers, ["tag:web"])).toEqual(["nixos-prod", "nixos-prod-2"]);
    expect(selectServers("p", servers, ["nixos-backup", "tag:production"])).toEqual(["nixos-prod", "nixos-backup"]);
    expect(selectServers("p", servers, [])).toEqual(["nixos-prod", "nixos-backup", "nixos-prod-2"]);
  });

  it("a selector matching nothing is an error listing the names and tags", () => {
    expect(() => selectServers("production", servers, ["tag:web", "tag:db", "nixos"])).toThrow(
      new SelectionError(
        '--only tag:db, nixos: no such server in stack "production". Servers: nixos-prod, nixos-backup, nixos-prod-2. Tags: tag:production, tag:web, tag:storage.',
      ),
    );
  });
});

describe("serverTargets / serverOf", () => {
  it("targets exact resource names, so a server never covers another whose name it prefixes", () => {
    const globs = serverTargets("nixos-prod");
    expect(globs).toContain("**::nixos-prod");
    expect(globs).toContain("**::nixos-prod-rebuild");
    // Pulumi's glob rule (pkg/resource/deploy/deployment.go getMatcher): "**" is ".*", "*" is "[^:]*".
    const match = (urn: string) => globs.some((g) => new RegExp(`^${g.split("**").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(urn));
    const urn = (chain: string, name: string) => `urn:pulumi:production::nixos-home-server::${chain}::${name}`;
    expect(match(urn("nixos-home-server:index:NixosServer$command:remote:Command", "nixos-prod-verify"))).toBe(true);
    expect(match(urn("nixos-home-server:index:NixosServer$command:remote:Command", "nixos-prod-2-verify"))).toBe(false);
    expect(match(urn("nixos-home-server:index:NixosServer", "nixos-prod-2"))).toBe(false);
  });

  it("maps resource names back to their server", () => {
    const names = servers.map((s) => s.name);
    expect(serverOf("nixos-prod-2-verify", names)).toBe("nixos-prod-2");
    expect(serverOf("nixos-prod-deploy-key-seed", names)).toBe("nixos-prod");
    expect(serverOf("nixos-prod", names)).toBe("nixos-prod");
    expect(serverOf("nixos-other-verify", names)).toBeUndefined();
  });
});

describe("parseDeployArgs", () => {
  it("reads the stack, every --only and --yes", () => {
    expect(parseDeployArgs(["production", "--only", "tag:web", "--only=nixos-backup", "--yes"])).toEqual({
      stack: "production",
      only: ["tag:web", "nixos-backup"],
      yes: true,
    });
    expect(() => parseDeployArgs([])).toThrow(/usage: npm run deploy -- <stack>/);
    expect(() => parseDeployArgs(["p", "--only"])).toThrow(/--only needs NAME or tag:TAG/);
    expect(() => parseDeployArgs(["p", "--target", "x"])).toThrow(/unknown option --target/);
  });
});

describe("tableRow / renderTable", () => {
  const rebuild = "nhs-result status=ok name=a mode=switch previous=42 generation=43 store=/nix/store/x duration=3 watchdog=armed";
  it("a verified server: generation from → to, duration, checks", () => {
    const r = tableRow({ name: "a", changed: true, failed: false, rebuildStdout: rebuild, verifyText: "nhs-result status=ok generation=43 checks=6 report=all 6 checks pass on generation 43", firstMs: 0, lastMs: 12_340 });
    expect(r).toEqual({ server: "a", result: "verified", generation: "42 → 43", duration: "12.3s", checks: "6 pass" });
  });

  it("a rolled-back server, from the text of Verify's failure", () => {
    const failure = "error: Process exited with status 1: running \"sudo ...\":\nverify: == lock\nnhs-result status=rolled-back generation=42 failed=nginx.service report=nginx.service failed; rolled back";
    const r = tableRow({ name: "b", changed: true, failed: true, rebuildStdout: rebuild, verifyText: failure, firstMs: 0, lastMs: 1000 });
    expect(r).toEqual({ server: "b", result: "FAILED, rolled back", generation: "42 → 42 (43 rolled back)", duration: "1.0s", checks: "failed: nginx.service" });
  });

  it("an unchanged server, and the aligned table", () => {
    const rows = [tableRow({ name: "long-name", changed: false, failed: false }), { server: "a", result: "verified", generation: "1 → 2", duration: "1.0s", checks: "6 pass" }];
    expect(renderTable(rows)).toBe(
      "server     result     generation  duration  checks\n" +
        "---------  ---------  ----------  --------  ------\n" +
        "long-name  unchanged  -           -         -\n" +
        "a          verified   1 → 2       1.0s      6 pass",
    );
  });
});
