/**
 * The one activity every workflow starts with: what it may know of the cluster it was named, from
 * the worker's inventory. It enters the history, so it carries no secret and no file path.
 */
import type { ClusterConfig, Inventory } from '../config';
import type { ClusterResolver } from './clusters';

/** What a workflow may know of a cluster: no secrets, no file paths. */
export interface ClusterSpec {
  name: string;
  nodes: string[];
  masters: number;
  replicasPerMaster: number;
  /** TLS without certificate checks (the inventory's tls.insecure): a clusterHealth finding. */
  tlsInsecure: boolean;
  /** Where addNode and createCluster may add nodes besides `nodes` (see addressInInventory). */
  spareNodes: string[];
  /** The address applications use (Envoy), when the inventory names one. */
  clientEndpoint?: string;
  /** The kind of runtime that runs its nodes, when the inventory names one. */
  runtime?: 'process' | 'docker';
  /**
   * The hosts its nodes run on (host -> node addresses and spare entries), when the inventory
   * spreads it over many: node-local steps go to each node's host agent (src/cluster/hosts.ts).
   */
  hosts?: Record<string, string[]>;
  /** With hosts: how long a node-local step waits for its host's agent before it fails. */
  hostAgentWaitSeconds?: number;
  /** With hosts: the host whose agent runs verifyBackup's scratch clusters. */
  scratchHost?: string;
}

/** The kind of the cluster's runtime, or of its hosts' own runtimes when it names none itself. */
function runtimeKind(inventory: Inventory, c: ClusterConfig): ClusterSpec['runtime'] {
  const name = c.runtime ?? Object.values(c.hosts ?? {}).find((h) => h.runtime)?.runtime;
  return name ? inventory.runtimes[name]?.type : undefined;
}

export function createClusterSpecActivities(inventory: Inventory, clusters: Pick<ClusterResolver, 'clusterConfig' | 'scratchNamed'>) {
  return {
    /** Resolves a cluster name from the inventory; fails with InvalidInput for an unknown one. */
    async loadClusterSpec(name: string): Promise<ClusterSpec> {
      const c = clusters.clusterConfig(name);
      return {
        name,
        nodes: c.nodes,
        masters: c.masters,
        replicasPerMaster: c.replicasPerMaster,
        tlsInsecure: Boolean(c.tls && !c.tls.rejectUnauthorized),
        spareNodes: c.spareNodes,
        clientEndpoint: c.clientEndpoint,
        // A scratch cluster always runs on processes (see ./scratchClusters).
        runtime: clusters.scratchNamed(name) ? 'process' : runtimeKind(inventory, c),
        ...(c.hosts
          ? {
              hosts: Object.fromEntries(Object.entries(c.hosts).map(([host, h]) => [host, h.nodes])),
              hostAgentWaitSeconds: c.hostAgentWaitSeconds,
              scratchHost: c.scratchHost,
            }
          : {}),
      };
    },
  };
}
