/**
 * What a scratch cluster is, once allocated (see ./scratch): its source cluster's settings on its
 * own ports, run by a process runtime in its allocation's directory. Nothing else of the source
 * carries over, so a drill never reaches the source's nodes, endpoint or spare addresses.
 */
import { scratchAddresses, type ScratchAllocation } from '../cluster/scratch';
import type { ClusterConfig, Inventory } from '../config';
import type { NodeSecrets } from '../credentials';
import { ProcessRuntime, type NodeRuntime } from '../runtime';

/** The scratch cluster's settings: the source's, with its own ports only (no spares, no endpoint, no TLS, no scratch range of its own). */
export function scratchClusterConfig(source: ClusterConfig, scratch: ScratchAllocation): ClusterConfig {
  return {
    ...source,
    nodes: scratchAddresses(scratch),
    masters: scratch.masters,
    replicasPerMaster: scratch.replicasPerMaster,
    tls: undefined,
    clientEndpoint: undefined,
    spareNodes: [],
    scratchPorts: undefined,
    // The whole scratch cluster is on one machine, its agent's (or this worker's).
    hosts: undefined,
    scratchHost: undefined,
  };
}

/** A process runtime for a scratch cluster, with the source's binaries when the source has a process runtime. */
export function scratchRuntime(inventory: Inventory, scratch: ScratchAllocation, secrets: NodeSecrets): NodeRuntime {
  const source = inventory.clusters[scratch.source];
  const sourceRuntime = inventory.runtimes[(scratch.host && source?.hosts?.[scratch.host]?.runtime) || (source?.runtime ?? '')];
  const versions = sourceRuntime?.type === 'process' ? sourceRuntime.versions : { default: 'redis-server' };
  const defaultVersion = sourceRuntime?.type === 'process' ? sourceRuntime.defaultVersion : 'default';
  return new ProcessRuntime({ type: 'process', baseDir: scratch.dir, versions, defaultVersion, nodeTimeoutMs: 2000, extraConfig: {} }, secrets);
}
