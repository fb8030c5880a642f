/**
 * Which backup store a cluster's backups go to: the one an input names, else the cluster's
 * backupStore in the inventory (a scratch cluster's is its source's). Each store is built once.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Inventory } from '../config';
import { createStore, type BackupStore } from '../storage';
import type { ClusterResolver } from './clusters';

/** The store named `store`, or the cluster's backupStore when `store` is empty. */
export type StoreResolver = (cluster: string, store: string) => BackupStore;

export function createStoreResolver(inventory: Inventory, env: NodeJS.ProcessEnv, clusters: Pick<ClusterResolver, 'clusterConfig' | 'scratchNamed'>) {
  const stores = new Map<string, BackupStore>();

  function storeName(cluster: string, store: string): string | undefined {
    return store || clusters.clusterConfig(clusters.scratchNamed(cluster)?.source ?? cluster).backupStore;
  }

  const storeNamed: StoreResolver = (cluster, store) => {
    const name = storeName(cluster, store);
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
    let built = stores.get(name);
    if (!built) {
      built = createStore(config, env);
      stores.set(name, built);
    }
    return built;
  };

  return { storeNamed, storeName };
}

export function createStoreActivities(stores: ReturnType<typeof createStoreResolver>) {
  return {
    /** The store a cluster's backups go to (its name in the inventory and where it is). */
    async describeStore(cluster: string, store: string): Promise<{ name: string; description: string }> {
      const { description } = stores.storeNamed(cluster, store);
      return { name: stores.storeName(cluster, store)!, description };
    },
  };
}
