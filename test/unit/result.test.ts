import { describe, expect, it } from "vitest";
import { parseDeployResult, parseResultLine, parseVerifyResult } from "../../components/lib/result";

describe("result lines", () => {
  it("parses deploy.sh's line among log noise", () => {
    const out = "building...\nnhs-result status=ok name=nixos-prod mode=switch previous=42 generation=43 store=/nix/store/abc-nixos-system duration=17 watchdog=armed at=2026-11-28T12:00:00Z\n";
    expect(parseDeployResult(out, "nixos-prod.home.arpa")).toEqual({
      status: "ok",
      previousGeneration: 42,
      generation: 43,
      storePath: "/nix/store/abc-nixos-system",
      durationSeconds: 17,
      deployedAt: "2026-11-28T12:00:00Z",
      watchdog: "armed",
    });
  });

  it("keeps report= as free text to the end of the line", () => {
    const v = parseVerifyResult("nhs-result status=ok generation=43 checks=5 report=all 5 checks pass on generation 43", "h");
    expect(v).toEqual({ status: "ok", generation: 43, checks: 5, report: "all 5 checks pass on generation 43" });
  });

  it("names the step, key and host when a key is missing", () => {
    expect(() => parseDeployResult("nhs-result status=ok previous=1 generation=2 duration=3", "nixos-prod.home.arpa")).toThrow(
      'deploy on nixos-prod.home.arpa: result line has no "store" key',
    );
  });

  it("rejects no line, two lines, malformed fields and non-numbers", () => {
    expect(() => parseResultLine("hello", { step: "sync", host: "h" })).toThrow('sync on h printed no "nhs-result" line');
    expect(() => parseResultLine("nhs-result a=1\nnhs-result a=2", { step: "sync", host: "h" })).toThrow("printed 2");
    expect(() => parseResultLine("nhs-result novalue", { step: "sync", host: "h" })).toThrow('malformed field "novalue"');
    expect(() => parseVerifyResult("nhs-result status=ok generation=x checks=1", "h")).toThrow('"generation" is not a whole number');
  });
});

