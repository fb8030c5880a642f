/**
 * What a cluster name resolves to on this worker: its inventory entry (or, for a scratch cluster
 * this worker allocated, the entry derived from its source), its Redis connector and its node
 * runtime, each built once per name. Every activity reaches a cluster through these, so none can
 * contact an address the inventory does not name.
 */
import { ApplicationFailure } from '@temporalio/common';
import { addressInInventory } from '../cluster';
import { isScratchName, type ScratchAllocation } from '../cluster/scratch';
import type { ClusterConfig, Inventory } from '../config';
import { resolveNodeSecrets } from '../credentials';
import { createRuntime, type NodeRuntime } from '../runtime';
import { HostBoundRuntime } from './hostRuntime';
import { noRuntime } from './nodes';
import { NodeConnector } from './redis/connection';
import { readScratchRecord, scratchRoot } from './scratch';
import { scratchClusterConfig, scratchRuntime } from './scratchClusters';

export interface ClusterResolver {
  /** The cluster's settings; fails with InvalidInput for a name the inventory does not have. */
  clusterConfig(name: string): ClusterConfig;
  /** A scratch cluster this worker allocated (see ./scratch); any other "scratch:" name is unknown. */
  scratchNamed(name: string): ScratchAllocation | undefined;
  connectorFor(name: string): NodeConnector;
  runtimeFor(name: string): NodeRuntime;
  /** Drops what was built for a name (a scratch cluster that was destroyed). */
  forget(name: string): void;
}

/**
 * `agentHost`: the host this worker is the agent of (`redisforge worker --host`); of a cluster
 * with `hosts`, it touches only the nodes of that host, the central worker none.
 */
export function createClusterResolver(inventory: Inventory, env: NodeJS.ProcessEnv, agentHost?: string): ClusterResolver {
  const scratchDir = scratchRoot(env);
  const connectors = new Map<string, NodeConnector>();
  const runtimes = new Map<string, NodeRuntime>();

  function scratchNamed(name: string): ScratchAllocation | undefined {
    return isScratchName(name) ? readScratchRecord(scratchDir, name) : undefined;
  }

  function clusterConfig(name: string): ClusterConfig {
    const scratch = scratchNamed(name);
    if (scratch) return scratchClusterConfig(clusterConfig(scratch.source), scratch);
    const cluster = Object.hasOwn(inventory.clusters, name) ? inventory.clusters[name] : undefined;
    if (!cluster) {
      throw ApplicationFailure.create({
        type: 'InvalidInput',
        nonRetryable: true,
        message: `cluster: unknown cluster "${name}"; the worker's inventory has: ${Object.keys(inventory.clusters).join(', ') || 'no clusters'}`,
        details: [{ problems: [`cluster: unknown cluster "${name}"`] }],
      });
    }
    return cluster;
  }

  function connectorFor(name: string): NodeConnector {
    let connector = connectors.get(name);
    if (!connector) {
      const config = clusterConfig(name);
      const allowed = [...config.nodes, ...(config.clientEndpoint ? [config.clientEndpoint] : [])];
      connector = new NodeConnector(config, env, { allows: (address) => addressInInventory(address, allowed, config.spareNodes) });
      connectors.set(name, connector);
    }
    return connector;
  }

  function runtimeFor(name: string): NodeRuntime {
    let runtime = runtimes.get(name);
    if (!runtime) {
      const scratch = scratchNamed(name);
      const config = clusterConfig(name);
      const secrets = resolveNodeSecrets(config, env);
      if (scratch) runtime = scratchRuntime(inventory, scratch, secrets);
      else if (config.hosts) runtime = hostBoundRuntime(name, config, secrets);
      else runtime = createRuntime(inventory, name, secrets, env);
      if (!runtime) throw noRuntime(name);
      runtimes.set(name, runtime);
    }
    return runtime;
  }

  /** A cluster over many hosts: each host's runtime (its own or the cluster's), reached only on that host. */
  function hostBoundRuntime(name: string, config: ClusterConfig, secrets: ReturnType<typeof resolveNodeSecrets>): NodeRuntime | undefined {
    const hosts = config.hosts!;
    const perHost = new Map<string, NodeRuntime>();
    const runtimeOn = (host: string): NodeRuntime => {
      let runtime = perHost.get(host);
      if (!runtime) {
        runtime = createRuntime(inventory, name, secrets, env, hosts[host]?.runtime);
        if (!runtime) throw noRuntime(name);
        perHost.set(host, runtime);
      }
      return runtime;
    };
    if (!config.runtime && Object.values(hosts).every((h) => !h.runtime)) return undefined;
    return new HostBoundRuntime(name, Object.fromEntries(Object.entries(hosts).map(([h, e]) => [h, e.nodes])), agentHost, runtimeOn);
  }

  return {
    clusterConfig,
    scratchNamed,
    connectorFor,
    runtimeFor,
    forget(name) {
      runtimes.delete(name);
      connectors.delete(name);
    },
  };
}
