// Staged promotion: the source a run records, and when production refuses it.
import { describe, expect, it } from "vitest";
import { promotionProblems, refusalMessage, sourceOf } from "../../components/lib/promotion";
import { parseStackConfig } from "../../components/config";
import { server } from "./fixtures";

const A = "a".repeat(40);
const B = "b".repeat(40);

describe("sourceOf", () => {
  it("records HEAD and marks any porcelain line dirty", () => {
    expect(sourceOf(`${A}\n`, "")).toEqual({ commit: A, dirty: false });
    expect(sourceOf(`${A}\n`, " M index.ts\n")).toEqual({ commit: A, dirty: true });
    expect(sourceOf(`${A}\n`, "?? new-file\n")).toEqual({ commit: A, dirty: true });
    expect(sourceOf(null, null)).toEqual({ commit: null, dirty: true });
  });
});

describe("promotionProblems", () => {
  const clean = { commit: A, dirty: false };
  it("accepts a clean commit that staging deployed and verified", () => {
    expect(promotionProblems(clean, "staging", { commit: A, dirty: false, verified: true })).toEqual([]);
  });

  it("refuses an unverified commit, a dirty tree, and what staging did not finish", () => {
    expect(promotionProblems(clean, "staging", { commit: B, dirty: false, verified: true })).toEqual([
      `commit ${A.slice(0, 12)} is not the one stack "staging" last deployed (${B.slice(0, 12)}); deploy it to staging first`,
    ]);
    expect(promotionProblems({ commit: A, dirty: true }, "staging", { commit: A, dirty: false, verified: true })).toEqual([
      "the working tree has uncommitted changes (`git status --porcelain` is not empty); commit or stash them",
    ]);
    expect(promotionProblems(clean, "staging", { commit: A, dirty: false, verified: false })[0]).toMatch(/not every server passed Verify/);
    expect(promotionProblems(clean, "staging", { commit: A, dirty: true, verified: true })[0]).toMatch(/from a tree with uncommitted changes/);
    expect(promotionProblems(clean, "staging", undefined)).toEqual(['stack "staging" has no release output yet; deploy it first']);
    expect(promotionProblems({ commit: null, dirty: true }, "staging", { commit: A, verified: true })).toHaveLength(2);
  });

  it("the refusal says nothing was touched and how to override", () => {
    expect(refusalMessage("staging", ["x"])).toMatch(/^promotion from stack "staging" refused; no host was touched:\n  - x\n.*promotion\.override/s);
  });
});

describe("promotion config", () => {
  const ctx = { hostDirectories: ["nixos-prod"] };
  it("is optional, validated, and keeps the override", () => {
    expect(parseStackConfig({ servers: [server("nixos-prod")], fleet: {} }, ctx).promotion).toBeUndefined();
    expect(parseStackConfig({ servers: [server("nixos-prod")], fleet: {}, promotion: { from: "staging", override: "hotfix #12" } }, ctx).promotion).toEqual({
      from: "staging",
      override: "hotfix #12",
    });
    expect(() => parseStackConfig({ servers: [server("nixos-prod")], fleet: {}, promotion: { from: "a b", extra: 1 } }, ctx)).toThrow(
      /promotion: from: must be a stack name[\s\S]*promotion: unknown key "extra"/,
    );
  });
});
