import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { plainVersionFormat } from "../../src/cli/fast-version.js";

describe("which `version` invocations take the fast path", () => {
  it("plain version, with or without a valid --format/-f", () => {
    assert.equal(plainVersionFormat(["version"]), "table");
    assert.equal(plainVersionFormat(["version", "--format", "json"]), "json");
    assert.equal(plainVersionFormat(["version", "-f", "table"]), "table");
    assert.equal(plainVersionFormat(["version", "--format=json"]), "json");
  });
  it("anything else goes to the full command (its checks and messages)", () => {
    for (const args of [
      [],
      ["scan"],
      ["version", "--help"],
      ["version", "--format", "yaml"],
      ["version", "--format"],
      ["version", "-f", "json", "extra"],
      ["version", "--format=json", "--format=table"],
      ["scan", "version"],
    ]) {
      assert.equal(plainVersionFormat(args), undefined, JSON.stringify(args));
    }
  });
});
