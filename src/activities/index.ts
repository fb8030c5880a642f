/**
 * All activities, built from the worker's inventory and environment. Workflows see them only
 * as the type `Activities`.
 */
import { ApplicationFailure } from '@temporalio/common';
import { addressInInventory } from '../cluster';
import { isScratchName, scratchAddresses, type ScratchAllocation } from '../cluster/scratch';
import type { ClusterConfig, Inventory } from '../config';
import { createRuntime, ProcessRuntime, type NodeRuntime } from '../runtime';
import { createStore, type BackupStore } from '../storage';
import type { Client } from '@temporalio/client';
import { connectClient, TASK_QUEUE } from '../client/connection';
import { createBackupActivities } from './backups';
import { createRestoreActivities } from './restores';
import { createLockActivities } from './locks';
import { NodeConnector } from './redis/connection';
import { resolveNodeSecrets } from '../credentials';
import { createAclActivities } from './redis/acl';
import { createClusterFormingActivities } from './redis/cluster';
import { createFailoverActivities } from './redis/failover';
import { createMigrateActivities } from './redis/migrate';
import { createMembershipActivities } from './redis/membership';
import { createRepairActivities } from './redis/repair';
import { createRoutingActivities } from './redis/routing';
import { createNodeActivities, noRuntime } from './nodes';
import { createUpgradeActivities } from './upgrade';
import { createProxyActivities } from './proxies';
import { createScratchActivities, readScratchRecord, scratchRoot } from './scratch';

/** What a workflow may know of a cluster: no secrets, no file paths. */
export interface ClusterSpec {
  name: string;
  nodes: string[];
  masters: number;
  replicasPerMaster: number;
  auth: 'none' | 'password' | 'acl-user';
  tls: boolean;
  /** TLS without certificate checks (the inventory's tls.insecure): a clusterHealth finding. */
  tlsInsecure: boolean;
  /** Where addNode and createCluster may add nodes besides `nodes` (see addressInInventory). */
  spareNodes: string[];
  /** The address applications use (Envoy), when the inventory names one. */
  clientEndpoint?: string;
  /** The kind of runtime that runs its nodes, when the inventory names one. */
  runtime?: 'process' | 'docker';
}

export interface ActivityContext {
  /** Where the cluster lock workflows run (the worker's lockTaskQueue). @default "redisforge-ops" */
  taskQueue?: string;
  /** A Temporal client for the lock activities. @default connected like the Temporal CLI, on first use */
  client?: () => Promise<Client>;
}

export function createActivities(inventory: Inventory, env: NodeJS.ProcessEnv = process.env, context: ActivityContext = {}) {
  let client: Promise<Client> | undefined;
  const clientFor = context.client ?? (() => (client ??= connectClient()));
  const connectors = new Map<string, NodeConnector>();

  const scratchDir = scratchRoot(env);

  /** A scratch cluster this worker allocated (see ./scratch); any other "scratch:" name is unknown. */
  function scratchNamed(name: string): ScratchAllocation | undefined {
    return isScratchName(name) ? readScratchRecord(scratchDir, name) : undefined;
  }

  function clusterConfig(name: string): ClusterConfig {
    const scratch = scratchNamed(name);
    if (scratch) {
      const source = clusterConfig(scratch.source);
      // Its own ports only: no spare addresses, no endpoint, no scratch range of its own.
      return { ...source, nodes: scratchAddresses(scratch), masters: scratch.masters, replicasPerMaster: scratch.replicasPerMaster, tls: undefined, clientEndpoint: undefined, spareNodes: [], scratchPorts: undefined };
    }
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

  const runtimes = new Map<string, NodeRuntime>();
  function runtimeFor(name: string): NodeRuntime {
    let runtime = runtimes.get(name);
    if (!runtime) {
      const scratch = scratchNamed(name);
      runtime = scratch ? scratchRuntime(name, scratch) : createRuntime(inventory, name, resolveNodeSecrets(clusterConfig(name), env));
      if (!runtime) throw noRuntime(name);
      runtimes.set(name, runtime);
    }
    return runtime;
  }

  /** A process runtime for a scratch cluster, with the source's binaries when it has a process runtime. */
  function scratchRuntime(name: string, scratch: ScratchAllocation): NodeRuntime {
    const sourceRuntime = inventory.runtimes[inventory.clusters[scratch.source]?.runtime ?? ''];
    const versions = sourceRuntime?.type === 'process' ? sourceRuntime.versions : { default: 'redis-server' };
    const defaultVersion = sourceRuntime?.type === 'process' ? sourceRuntime.defaultVersion : 'default';
    return new ProcessRuntime(
      { type: 'process', baseDir: scratch.dir, versions, defaultVersion, nodeTimeoutMs: 2000, extraConfig: {} },
      resolveNodeSecrets(clusterConfig(name), env),
    );
  }

  const stores = new Map<string, BackupStore>();
  /** The store named `store`, or the cluster's backupStore when `store` is empty. */
  function storeNamed(cluster: string, store: string): BackupStore {
    const name = store || clusterConfig(scratchNamed(cluster)?.source ?? cluster).backupStore;
    const config = name === undefined ? undefined : inventory.stores[name];
    if (!name || !config) {
      throw ApplicationFailure.create({
        type: 'InvalidInput',
        nonRetryable: true,
        message: name
          ? `store: no store "${name}" in the worker's inventory (stores: ${Object.keys(inventory.stores).join(', ') || 'none'})`
          : `cluster ${cluster} has no backupStore in the worker's inventory: add one under "stores" and name it in clusters.${cluster}.backupStore, or pass "store"`,
      });
    }
    let s = stores.get(name);
    if (!s) {
      s = createStore(config, env);
      stores.set(name, s);
    }
    return s;
  }

  return {
    /** Resolves a cluster name from the inventory; fails with InvalidInput for an unknown one. */
    async loadClusterSpec(name: string): Promise<ClusterSpec> {
      const c = clusterConfig(name);
      const hasPassword = Boolean(c.acl || env[c.auth.passwordEnv] || c.auth.passwordFile);
      const hasUser = Boolean(c.acl || (c.auth.usernameEnv && env[c.auth.usernameEnv]));
      return {
        name,
        nodes: c.nodes,
        masters: c.masters,
        replicasPerMaster: c.replicasPerMaster,
        auth: hasUser ? 'acl-user' : hasPassword ? 'password' : 'none',
        tls: Boolean(c.tls),
        tlsInsecure: Boolean(c.tls && !c.tls.rejectUnauthorized),
        spareNodes: c.spareNodes,
        clientEndpoint: c.clientEndpoint,
        runtime: scratchNamed(name) ? 'process' : c.runtime ? inventory.runtimes[c.runtime]?.type : undefined,
      };
    },
    ...createClusterFormingActivities(connectorFor),
    ...createFailoverActivities(connectorFor),
    ...createMigrateActivities(connectorFor),
    ...createMembershipActivities(connectorFor),
    ...createNodeActivities(runtimeFor),
    ...createBackupActivities(connectorFor, runtimeFor, storeNamed),
    ...createRestoreActivities(connectorFor, runtimeFor, storeNamed),
    ...createRepairActivities(connectorFor, runtimeFor),
    ...createRoutingActivities(connectorFor),
    ...createLockActivities(clientFor, () => context.taskQueue ?? TASK_QUEUE),
    ...createUpgradeActivities(connectorFor, runtimeFor),
    ...createProxyActivities(inventory),
    ...createAclActivities(connectorFor, clusterConfig, env),
    ...createScratchActivities({ inventory, env, clusterConfig, runtimeFor, connectorFor, forget: (name) => {
        runtimes.delete(name);
        connectors.delete(name);
      },
    }),

    /** The store a cluster's backups go to (its name in the inventory and where it is). */
    async describeStore(cluster: string, store: string): Promise<{ name: string; description: string }> {
      const s = storeNamed(cluster, store);
      return { name: store || clusterConfig(scratchNamed(cluster)?.source ?? cluster).backupStore!, description: s.description };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
