/**
 * All activities, built from the worker's inventory and environment. Workflows see them only
 * as the type `Activities`.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ClusterConfig, Inventory } from '../config';
import { createRuntime, type NodeRuntime } from '../runtime';
import { NodeConnector, resolveCredentials } from './redis/connection';
import { createClusterFormingActivities } from './redis/cluster';
import { createFailoverActivities } from './redis/failover';
import { createMigrateActivities } from './redis/migrate';
import { createMembershipActivities } from './redis/membership';
import { createNodeActivities, noRuntime } from './nodes';

/** What a workflow may know of a cluster: no secrets, no file paths. */
export interface ClusterSpec {
  name: string;
  nodes: string[];
  masters: number;
  replicasPerMaster: number;
  auth: 'none' | 'password' | 'acl-user';
  tls: boolean;
  /** The kind of runtime that runs its nodes, when the inventory names one. */
  runtime?: 'process' | 'docker';
}

export function createActivities(inventory: Inventory, env: NodeJS.ProcessEnv = process.env) {
  const connectors = new Map<string, NodeConnector>();

  function clusterConfig(name: string): ClusterConfig {
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
      connector = new NodeConnector(clusterConfig(name), env);
      connectors.set(name, connector);
    }
    return connector;
  }

  const runtimes = new Map<string, NodeRuntime>();
  function runtimeFor(name: string): NodeRuntime {
    let runtime = runtimes.get(name);
    if (!runtime) {
      runtime = createRuntime(inventory, name, resolveCredentials(clusterConfig(name), env));
      if (!runtime) throw noRuntime(name);
      runtimes.set(name, runtime);
    }
    return runtime;
  }

  return {
    /** Resolves a cluster name from the inventory; fails with InvalidInput for an unknown one. */
    async loadClusterSpec(name: string): Promise<ClusterSpec> {
      const c = clusterConfig(name);
      const hasPassword = Boolean(env[c.auth.passwordEnv] || c.auth.passwordFile);
      const hasUser = Boolean(c.auth.usernameEnv && env[c.auth.usernameEnv]);
      return {
        name,
        nodes: c.nodes,
        masters: c.masters,
        replicasPerMaster: c.replicasPerMaster,
        auth: hasUser ? 'acl-user' : hasPassword ? 'password' : 'none',
        tls: Boolean(c.tls),
        runtime: c.runtime ? inventory.runtimes[c.runtime]?.type : undefined,
      };
    },
    ...createClusterFormingActivities(connectorFor),
    ...createFailoverActivities(connectorFor),
    ...createMigrateActivities(connectorFor),
    ...createMembershipActivities(connectorFor),
    ...createNodeActivities(runtimeFor),
  };
}

export type Activities = ReturnType<typeof createActivities>;
