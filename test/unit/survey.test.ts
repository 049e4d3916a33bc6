import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { primaryName } from "../../src/core/survey.js";
import type { ContainerSummary } from "../../src/docker/client.js";

const listed = (names: string[]): ContainerSummary => ({
  id: "a".repeat(64),
  names,
  state: "running",
  created: 0,
  labels: {},
  imageId: "sha256:x",
});

describe("names from the container list", () => {
  it("a container's own name, not the aliases links give it in other containers' names", () => {
    // `docker run --link db:dbalias --name web …` lists db as ["/db", "/web/dbalias"], in any order.
    assert.equal(primaryName(listed(["web/dbalias", "db"])), "db");
    assert.equal(primaryName(listed(["db", "web/dbalias"])), "db");
    assert.equal(primaryName(listed(["web"])), "web");
    assert.equal(primaryName(listed([])), "");
  });
});
