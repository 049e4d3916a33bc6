/** How `scan --swarm` reaches each node: a context of its name, else --node-host, else nothing. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nodeHostTemplate } from "../../src/cli/fleet.js";
import { UsageError } from "../../src/errors.js";
import { type NodeFacts, routeNodes } from "../../src/model/swarm.js";

const node = (hostname: string, state = "ready", addr = "10.0.0.9"): NodeFacts => ({
  id: `id-${hostname}`,
  hostname,
  addr,
  state,
});

describe("--node-host templates", () => {
  it("fills .Hostname, .Addr and .ID", () => {
    const expand = (t: string, n: NodeFacts) => nodeHostTemplate(t)(n);
    assert.equal(expand("ssh://root@{{.Hostname}}", node("n1")), "ssh://root@n1");
    assert.equal(expand("tcp://{{ .Addr }}:2376", node("n1")), "tcp://10.0.0.9:2376");
    assert.equal(expand("ssh://{{.ID}}", node("n1")), "ssh://id-n1");
    assert.equal(expand("ssh://{{lower .Hostname}}", node("N1")), "ssh://n1");
  });
  it("refuses other fields and other template syntax", () => {
    assert.throws(
      () => nodeHostTemplate("ssh://{{.Spec}}"),
      (e) => e instanceof UsageError && /Spec/.test(e.message),
    );
    assert.throws(
      () => nodeHostTemplate("ssh://{{if .Addr}}x{{end}}"),
      (e) => e instanceof UsageError && /"if" is not in docker leak's template subset/.test(e.message),
    );
  });
});

describe("routeNodes", () => {
  it("a context of the node's name first, then the template; down nodes and unreachable ones are named", () => {
    const routes = routeNodes(
      [node("w2"), node("m1"), node("w1", "down"), node("w3")],
      new Set(["default", "m1"]),
      (n) => `ssh://root@${n.hostname}`,
    );
    assert.deepEqual(
      routes.map((r) => [r.node.hostname, "context" in r ? r.context : "host" in r ? r.host : r.problem]),
      [
        ["m1", "m1"],
        ["w1", "node w1 is down"],
        ["w2", "ssh://root@w2"],
        ["w3", "ssh://root@w3"],
      ],
    );
    const without = routeNodes([node("w2")], new Set(), undefined);
    assert.ok(
      "problem" in without[0]! && /no context named "w2" and no --node-host/.test(without[0].problem),
    );
  });
});
