/**
 * Redis side of the failover drill: canary keys, and the waits for FAIL, promotion,
 * cluster_state:ok and the old master's return, each timestamped when first observed.
 */
import { keyHashSlot, parseClusterInfo, parseInfo, parseReplicationInfo, referenceView } from '../../cluster';
import type { NodeConnector } from './connection';
import { clusterNodes, observeCluster } from './cluster';
import { pollUntil } from '../waiting';

const POLL_MS = 100;
/** Redis's CLUSTER_MF_TIMEOUT plus a margin. */
const MANUAL_FAILOVER_TIMEOUT_MS = 5_500;

export interface PromotionObserved {
  failFlaggedAt?: number;
  promotedAt: number;
  newMaster: { id: string; address: string };
}

export function createFailoverActivities(connectorFor: (cluster: string) => NodeConnector) {
  return {
    /** SETs the canary keys on the master and WAITs for a replica to acknowledge them. */
    async writeCanaries(cluster: string, master: string, keys: string[], value: string): Promise<{ written: number; acknowledged: boolean }> {
      return connectorFor(cluster).withNode(master, async (redis) => {
        const pipeline = redis.pipeline();
        for (const key of keys) pipeline.set(key, value, 'EX', 86_400);
        const results = (await pipeline.exec()) ?? [];
        const failed = results.filter(([err]) => err);
        if (failed.length > 0) throw new Error(`writing canaries on ${master}: ${failed[0]![0]!.message}`);
        const replicas = Number(await redis.call('WAIT', '1', '5000'));
        return { written: keys.length, acknowledged: replicas >= 1 };
      });
    },

    /**
     * Reads every canary from the node that owns its slot now; counts the missing or wrong ones.
     * With `remove`, deletes those it read, so the drill leaves no keys behind.
     */
    async verifyCanaries(cluster: string, seeds: string[], keys: string[], value: string, remove = false): Promise<{ checked: number; lost: string[] }> {
      const connector = connectorFor(cluster);
      let pending = [...keys];
      const lost: string[] = [];
      for (let round = 0; round < 5 && pending.length > 0; round++) {
        const view = referenceView(await observeCluster(connector, seeds)) ?? [];
        const owner = (key: string) => {
          const slot = keyHashSlot(key);
          return view.find((n) => n.role === 'master' && !n.flags.includes('fail') && n.slots.some((r) => slot >= r.start && slot <= r.end))?.address;
        };
        const byOwner = new Map<string, string[]>();
        for (const key of pending) {
          const address = owner(key) ?? '';
          byOwner.set(address, [...(byOwner.get(address) ?? []), key]);
        }
        const retry: string[] = [];
        for (const [address, group] of byOwner) {
          if (!address) {
            retry.push(...group);
            continue;
          }
          await connector.withNode(address, async (redis) => {
            const pipeline = redis.pipeline();
            for (const key of group) pipeline.get(key);
            const results = (await pipeline.exec()) ?? [];
            const read: string[] = [];
            results.forEach(([err, got], i) => {
              if (err && /MOVED|ASK|CLUSTERDOWN|TRYAGAIN/.test(err.message)) retry.push(group[i]!);
              else if (err || got !== value) lost.push(group[i]!);
              else read.push(group[i]!);
            });
            if (remove && read.length > 0) {
              const deletion = redis.pipeline();
              for (const key of read) deletion.del(key);
              await deletion.exec();
            }
          });
        }
        pending = retry;
        if (pending.length > 0) await new Promise((r) => setTimeout(r, 500));
      }
      return { checked: keys.length, lost: [...lost, ...pending] };
    },

    /**
     * Waits until one of the stopped master's replicas has promoted itself (its own view says
     * myself,master); notes when any other node first flagged the old master fail.
     */
    async awaitPromotion(cluster: string, oldMaster: { id: string; address: string }, replicas: string[], observers: string[], timeoutMs: number): Promise<PromotionObserved> {
      const connector = connectorFor(cluster);
      let failFlaggedAt: number | undefined;
      return pollUntil<PromotionObserved>(
        async () => {
          const [replicaViews, observerViews] = await Promise.all([
            Promise.all(replicas.map((a) => connector.tryNode(a, clusterNodes))),
            Promise.all(observers.map((a) => connector.tryNode(a, clusterNodes))),
          ]);
          const now = Date.now();
          if (failFlaggedAt === undefined && [...replicaViews, ...observerViews].some((v) => v?.find((n) => n.id === oldMaster.id)?.flags.includes('fail'))) {
            failFlaggedAt = now;
          }
          const promoted = replicaViews.map((v) => v?.find((n) => n.myself)).find((me) => me?.role === 'master');
          if (promoted) return { done: true, value: { failFlaggedAt, promotedAt: now, newMaster: { id: promoted.id, address: promoted.address } } };
          return { done: false, status: failFlaggedAt ? `${oldMaster.address} flagged fail, no replica promoted yet` : `waiting for ${oldMaster.address} to be flagged fail` };
        },
        { what: `a replica of ${oldMaster.address} to be promoted`, timeoutMs, intervalMs: POLL_MS },
      );
    },

    /** Waits until each of `addresses` reports cluster_state:ok. */
    async awaitClusterStateOk(cluster: string, addresses: string[], timeoutMs: number): Promise<{ okAt: number }> {
      const connector = connectorFor(cluster);
      return pollUntil(
        async () => {
          const states = await Promise.all(addresses.map((a) => connector.tryNode(a, async (r) => parseClusterInfo(String(await r.call('CLUSTER', 'INFO'))).state)));
          const notOk = addresses.filter((_, i) => states[i] !== 'ok');
          return notOk.length === 0 ? { done: true, value: { okAt: Date.now() } } : { done: false, status: `not ok yet: ${notOk.join(', ')}` };
        },
        { what: 'cluster_state:ok on every surviving node', timeoutMs, intervalMs: POLL_MS },
      );
    },

    /** Waits until `address` is a replica of `masterId` with master_link_status:up. */
    async awaitReplicaOf(cluster: string, address: string, masterId: string, timeoutMs: number): Promise<{ replicaAt: number; linkUpAt: number }> {
      const connector = connectorFor(cluster);
      let replicaAt: number | undefined;
      return pollUntil(
        async () => {
          const state = await connector.tryNode(address, async (r) => {
            const me = (await clusterNodes(r)).find((n) => n.myself)!;
            const rep = parseReplicationInfo(parseInfo(String(await r.call('INFO', 'replication'))));
            return { isReplica: me.role === 'replica' && me.masterId === masterId, linkUp: rep.masterLinkUp === true };
          });
          const now = Date.now();
          if (state?.isReplica) replicaAt ??= now;
          if (state?.isReplica && state.linkUp) return { done: true, value: { replicaAt: replicaAt!, linkUpAt: now } };
          return { done: false, status: !state ? `${address} not reachable yet` : state.isReplica ? 'replica, link not up yet' : `not yet a replica of ${masterId.slice(0, 8)}` };
        },
        { what: `${address} to replicate ${masterId.slice(0, 8)} with its link up`, timeoutMs, intervalMs: POLL_MS },
      );
    },

    /**
     * Coordinated CLUSTER FAILOVER on a replica, verified: it is asynchronous and can time out
     * silently (masters refuse a second vote for one shard within 2 x cluster-node-timeout), so
     * it is sent again once the previous attempt has run out (Redis gives one 5 s). Each attempt
     * pauses writes on the master until the replica caught up, so attempts never overlap.
     */
    async failoverTo(cluster: string, replica: string, timeoutMs: number): Promise<{ requestedAt: number; promotedAt: number; attempts: number }> {
      const connector = connectorFor(cluster);
      const requestedAt = Date.now();
      let attempts = 0;
      let lastAttempt = 0;
      return pollUntil(
        async () => {
          const me = await connector.tryNode(replica, async (r) => (await clusterNodes(r)).find((n) => n.myself));
          if (me?.role === 'master') return { done: true, value: { requestedAt, promotedAt: Date.now(), attempts } };
          if (Date.now() - lastAttempt > MANUAL_FAILOVER_TIMEOUT_MS) {
            await connector.withNode(replica, (r) => r.call('CLUSTER', 'FAILOVER'));
            attempts++;
            lastAttempt = Date.now();
          }
          return { done: false, status: `CLUSTER FAILOVER sent ${attempts} time(s); ${replica} is still a replica` };
        },
        { what: `${replica} to take over its master (CLUSTER FAILOVER)`, timeoutMs, intervalMs: POLL_MS },
      );
    },
  };
}
