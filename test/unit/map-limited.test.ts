import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mapLimited } from "../../src/docker/dockerode-client.js";

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("requests a few at a time (container inspects)", () => {
  it("keeps the order, never has more than the limit in flight, and uses all of it", async () => {
    let inFlight = 0;
    let most = 0;
    const items = Array.from({ length: 30 }, (_, i) => i);
    const out = await mapLimited(items, 4, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await tick((i * 7) % 5);
      inFlight--;
      return i * 2;
    });
    assert.deepEqual(
      out,
      items.map((i) => i * 2),
    );
    assert.equal(most, 4);
  });

  it("fails with the first failure and starts nothing after it", async () => {
    const started: number[] = [];
    await assert.rejects(
      mapLimited([0, 1, 2, 3, 4, 5, 6, 7], 2, async (i) => {
        started.push(i);
        await tick(1);
        if (i === 1) throw new Error("daemon gone");
        return i;
      }),
      /daemon gone/,
    );
    await tick(20);
    assert.ok(started.length <= 3, `started after the failure: ${started}`);
  });

  it("an empty list is an empty result", async () => {
    assert.deepEqual(await mapLimited([], 8, async () => 1), []);
  });
});
