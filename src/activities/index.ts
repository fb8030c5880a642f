/**
 * All activities, built from the worker's inventory and environment. Workflows see them only
 * as the type `Activities`.
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { addressInInventory, parseScratchClusterName, scratchNodes } from '../cluster';
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

  /** Where verifyBackup's scratch clusters live: REDISFORGE_SCRATCH_DIR, else the temp dir. */
  const scratchDir = env.REDISFORGE_SCRATCH_DIR ?? join(tmpdir(), 'redisforge-scratch');

  function clusterConfig(name: string): ClusterConfig {
    const scratch = parseScratchClusterName(name);
    if (scratch) {
      const source = clusterConfig(scratch.source);
      return { ...source, nodes: scratchNodes(scratch), masters: scratch.masters, replicasPerMaster: scratch.replicasPerMaster, tls: undefined, clientEndpoint: undefined };
    }
    const cluster = inventory.clusters[name];
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
      const scratch = parseScratchClusterName(name);
      runtime = scratch ? scratchRuntime(name, scratch.source, scratch.basePort) : createRuntime(inventory, name, resolveNodeSecrets(clusterConfig(name), env));
      if (!runtime) throw noRuntime(name);
      runtimes.set(name, runtime);
    }
    return runtime;
  }

  /** A process runtime for a scratch cluster, with the source's binaries when it has a process runtime. */
  function scratchRuntime(name: string, source: string, basePort: number): NodeRuntime {
    const sourceRuntime = inventory.runtimes[inventory.clusters[source]?.runtime ?? ''];
    const versions = sourceRuntime?.type === 'process' ? sourceRuntime.versions : { default: 'redis-server' };
    const defaultVersion = sourceRuntime?.type === 'process' ? sourceRuntime.defaultVersion : 'default';
    return new ProcessRuntime(
      { type: 'process', baseDir: join(scratchDir, `${source}-${basePort}`), versions, defaultVersion, nodeTimeoutMs: 2000, extraConfig: {} },
      resolveNodeSecrets(clusterConfig(name), env),
    );
  }

  const stores = new Map<string, BackupStore>();
  /** The store named `store`, or the cluster's backupStore when `store` is empty. */
  function storeNamed(cluster: string, store: string): BackupStore {
    const scratch = parseScratchClusterName(cluster);
    const name = store || clusterConfig(scratch?.source ?? cluster).backupStore;
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
        runtime: parseScratchClusterName(name) ? 'process' : c.runtime ? inventory.runtimes[c.runtime]?.type : undefined,
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

    /** The store a cluster's backups go to (its name in the inventory and where it is). */
    async describeStore(cluster: string, store: string): Promise<{ name: string; description: string }> {
      const s = storeNamed(cluster, store);
      return { name: store || clusterConfig(parseScratchClusterName(cluster)?.source ?? cluster).backupStore!, description: s.description };
    },

    /** Stops every node of a scratch cluster and removes its directory. */
    async destroyScratchCluster(name: string): Promise<{ removed: string[] }> {
      const scratch = parseScratchClusterName(name);
      if (!scratch) throw ApplicationFailure.create({ type: 'InvalidInput', nonRetryable: true, message: `${name} is not a scratch cluster name` });
      const runtime = runtimeFor(name);
      const nodes = scratchNodes(scratch);
      for (const address of nodes) await runtime.kill(address);
      await rm(join(scratchDir, `${scratch.source}-${scratch.basePort}`), { recursive: true, force: true });
      return { removed: nodes };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
