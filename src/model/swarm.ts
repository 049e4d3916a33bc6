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

export function routeNodes(
  nodes: readonly NodeFacts[],
  contexts: ReadonlySet<string>,
  /** `--node-host`, filled in for a node (its Go template is read in the command layer). */
  hostOf: ((node: NodeFacts) => string) | undefined,
): NodeRoute[] {
  return [...nodes]
    .sort((a, b) => a.hostname.localeCompare(b.hostname))
    .map((node): NodeRoute => {
      if (node.state !== "ready") return { node, problem: `node ${node.hostname} is ${node.state}` };
      if (contexts.has(node.hostname)) return { node, context: node.hostname };
      if (hostOf !== undefined) return { node, host: hostOf(node) };
      return {
        node,
        problem: `no context named "${node.hostname}" and no --node-host to reach node ${node.hostname}`,
      };
    });
}
