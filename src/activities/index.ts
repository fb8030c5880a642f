/**
 * All activities, built from the worker's inventory, environment and Temporal client. Workflows
 * see them only as the type `Activities`. Each group gets only what it touches: a connector,
 * runtime or store resolved from a cluster name, never an address of its own choosing.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { Inventory } from '../config';
import { taskQueueFromEnv } from '../shared';
import { createBackupActivities } from './backups';
import { createClusterResolver } from './clusters';
import { createClusterSpecActivities } from './clusterSpec';
import { createLockActivities } from './locks';
import { createNodeActivities } from './nodes';
import { createProxyActivities } from './proxies';
import { createAclActivities } from './redis/acl';
import { createClusterFormingActivities } from './redis/cluster';
import { createDiagnosisActivities } from './redis/diagnosis';
import { createFailoverActivities } from './redis/failover';
import { createMembershipActivities } from './redis/membership';
import { createMigrateActivities } from './redis/migrate';
import { createRepairActivities } from './redis/repair';
import { createRoutingActivities } from './redis/routing';
import { createRestoreActivities } from './restores';
import { createScratchActivities } from './scratch';
import { createStoreActivities, createStoreResolver } from './stores';
import { createUpgradeActivities } from './upgrade';

export type { ClusterSpec } from './clusterSpec';

/** What the worker hands the activities besides the inventory and environment. */
export interface ActivityContext {
  /** The worker's Temporal client, for the lock activities; without one they fail (only a worker runs them). */
  client?: Client;
  /** Where the cluster lock workflows run (the worker's lockTaskQueue). @default REDISFORGE_TASK_QUEUE of `env`, else "redisforge-ops" */
  lockTaskQueue?: string;
  /**
   * The host this worker is the agent of (`redisforge worker --host NAME`): of a cluster with
   * `hosts`, its node-local activities touch only that host's nodes. Absent: the central worker,
   * which touches no node of such a cluster.
   */
  host?: string;
}

export function createActivities(inventory: Inventory, env: NodeJS.ProcessEnv = process.env, context: ActivityContext = {}) {
  const clusters = createClusterResolver(inventory, env, context.host);
  const { clusterConfig, connectorFor, runtimeFor, forget } = clusters;
  const stores = createStoreResolver(inventory, env, clusters);
  const { storeNamed } = stores;
  const lockTaskQueue = context.lockTaskQueue ?? taskQueueFromEnv(env);
  const temporalClient = async (): Promise<Client> => {
    if (!context.client) throw noTemporalClient();
    return context.client;
  };

  return {
    ...createClusterSpecActivities(inventory, clusters),
    ...createClusterFormingActivities(connectorFor),
    ...createDiagnosisActivities(connectorFor),
    ...createFailoverActivities(connectorFor),
    ...createMigrateActivities(connectorFor),
    ...createMembershipActivities(connectorFor),
    ...createNodeActivities(runtimeFor),
    ...createBackupActivities(connectorFor, runtimeFor, storeNamed),
    ...createRestoreActivities(connectorFor, runtimeFor, storeNamed),
    ...createStoreActivities(stores),
    ...createRepairActivities(connectorFor, runtimeFor),
    ...createRoutingActivities(connectorFor),
    ...createLockActivities(temporalClient, () => lockTaskQueue),
    ...createUpgradeActivities(connectorFor, runtimeFor),
    ...createProxyActivities(inventory),
    ...createAclActivities(connectorFor, clusterConfig, env),
    ...createScratchActivities({ inventory, env, clusterConfig, runtimeFor, connectorFor, forget, host: context.host }),
  };
}

export type Activities = ReturnType<typeof createActivities>;

function noTemporalClient(): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'NoTemporalClient',
    nonRetryable: true,
    message: 'these activities were built without a Temporal client (ActivityContext.client): the lock activities run only in a worker made by createWorker',
  });
}
