// First use of a committed stack file: which commands create the stack, and the file kept as written.
import { describe, expect, it } from "vitest";
import { keepCommittedStackFile, stackToCreate } from "../../scripts/stack-file";

describe("stackToCreate", () => {
  it("names the stack of commands that need it", () => {
    expect(stackToCreate(["preview", "-s", "staging"])).toBe("staging");
    expect(stackToCreate(["up", "--stack", "production", "--yes"])).toBe("production");
    expect(stackToCreate(["config", "set", "--secret", "k", "v", "--stack=production"])).toBe("production");
  });

  it("leaves everything else to pulumi", () => {
    expect(stackToCreate(["preview"])).toBeUndefined();
    expect(stackToCreate(["stack", "init", "-s", "staging"])).toBeUndefined();
    expect(stackToCreate(["stack", "rm", "staging"])).toBeUndefined();
    expect(stackToCreate(["destroy", "-s", "staging"])).toBeUndefined();
    expect(stackToCreate(["version"])).toBeUndefined();
  });
});

describe("keepCommittedStackFile", () => {
  const committed = "config:\n  nixos-home-server:servers:\n    - name: a\n      tags: [x]\n";
  const rewritten = "encryptionsalt: v1:abc=:v1:def\nconfig:\n  nixos-home-server:servers:\n  - name: a\n    tags:\n    - x\n";

  it("keeps the committed text and adds only the new salt", () => {
    expect(keepCommittedStackFile(committed, rewritten)).toBe(`${committed}encryptionsalt: v1:abc=:v1:def\n`);
    expect(keepCommittedStackFile(committed.trimEnd(), rewritten)).toBe(`${committed}encryptionsalt: v1:abc=:v1:def\n`);
  });

  it("never replaces a salt the file already has, and changes nothing without one", () => {
    const salted = `encryptionsalt: v1:old\n${committed}`;
    expect(keepCommittedStackFile(salted, rewritten)).toBe(salted);
    expect(keepCommittedStackFile(committed, "config: {}\n")).toBe(committed);
  });
});
