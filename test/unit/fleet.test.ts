// Fleet lanes: concurrency bounded by parallelism, and a failure never stops another server.
import { describe, expect, it } from "vitest";
import { inLanes, outcomeSummary } from "../../components/lib/fleet";

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("inLanes", () => {
  it("never runs more than parallelism at once, and starts items in order", async () => {
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    await inLanes([5, 1, 3, 2, 4, 1], 2, async (ms, i) => {
      started.push(i);
      peak = Math.max(peak, ++running);
      for (let t = 0; t < ms; t++) await tick();
      running--;
    });
    expect(peak).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("keeps going after a failure, in every lane, and reports each outcome", async () => {
    const r = await inLanes(["a", "bad", "c", "d"], 1, async (x) => {
      await tick();
      if (x === "bad") throw new Error("bad failed");
      return x.toUpperCase();
    });
    expect(r.map((x) => x.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    expect(r[3]).toEqual({ status: "fulfilled", value: "D" });
  });

  it("rejects a parallelism that is not a positive integer", async () => {
    await expect(inLanes([1], 0, async () => 1)).rejects.toThrow(/parallelism must be a positive integer, got 0/);
  });
});

describe("outcomeSummary", () => {
  it("names every server and what happened to it", () => {
    const text = outcomeSummary([
      { name: "par1", verified: true, report: "all 5 checks pass on generation 3" },
      { name: "par20", verified: false },
    ]);
    expect(text).toBe(
      "fleet: 1 of 2 servers not verified\n" +
        "  par1   verified: all 5 checks pass on generation 3\n" +
        "  par20  NOT verified: failed or not started (its errors are listed above)",
    );
    expect(outcomeSummary([{ name: "a", verified: true, report: "ok" }])).toMatch(/^fleet: all 1 servers verified/);
  });
});
