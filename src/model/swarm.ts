/**
 * How each node of a Swarm is reached for `scan --swarm`: through a context of the node's
 * hostname when there is one, else through `--node-host TEMPLATE` (`ssh://root@{{.Hostname}}`,
 * `tcp://{{.Addr}}:2376`); a node that is not ready, or that neither names, cannot be scanned.
 * The manager never runs anything for other nodes: each node runs its own helper.
 */
export interface NodeFacts {
  id: string;
  hostname: string;
  addr: string;
  state: string;
}

export type NodeRoute =
  | { node: NodeFacts; context: string }
  | { node: NodeFacts; host: string }
  | { node: NodeFacts; problem: string };

const FIELD = /\{\{-?\s*\.(\w+)\s*-?\}\}/g;
const FIELDS: Record<string, (n: NodeFacts) => string> = {
  Hostname: (n) => n.hostname,
  Addr: (n) => n.addr,
  ID: (n) => n.id,
};

/** The template's `{{.Hostname}}`, `{{.Addr}}` and `{{.ID}}` filled in; anything else is refused. */
export function expandNodeHost(template: string, node: NodeFacts): string {
  const out = template.replace(FIELD, (_, name: string) => {
    const field = FIELDS[name];
    if (!field) throw new Error(`--node-host: unknown field .${name} (use .Hostname, .Addr or .ID)`);
    return field(node);
  });
  if (out.includes("{{")) throw new Error(`--node-host: unsupported template "${template}"`);
  return out;
}

export function checkNodeHostTemplate(template: string): void {
  expandNodeHost(template, { id: "x", hostname: "x", addr: "x", state: "ready" });
}

export function routeNodes(
  nodes: readonly NodeFacts[],
  contexts: ReadonlySet<string>,
  template: string | undefined,
): NodeRoute[] {
  return [...nodes]
    .sort((a, b) => a.hostname.localeCompare(b.hostname))
    .map((node): NodeRoute => {
      if (node.state !== "ready") return { node, problem: `node ${node.hostname} is ${node.state}` };
      if (contexts.has(node.hostname)) return { node, context: node.hostname };
      if (template !== undefined) return { node, host: expandNodeHost(template, node) };
      return {
        node,
        problem: `no context named "${node.hostname}" and no --node-host to reach node ${node.hostname}`,
      };
    });
}
