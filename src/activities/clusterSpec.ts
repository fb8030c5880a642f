/**
 * The one activity every workflow starts with: what it may know of the cluster it was named, from
 * the worker's inventory. It enters the history, so it carries no secret and no file path.
 */
import type { Inventory } from '../config';
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
        runtime: clusters.scratchNamed(name) ? 'process' : c.runtime ? inventory.runtimes[c.runtime]?.type : undefined,
      };
    },
  };
}
