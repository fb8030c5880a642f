/**
 * Redis side of the failover drill: canary keys, and the waits for FAIL, promotion,
 * cluster_state:ok and the old master's return, each timestamped when first observed.
 * A node that hangs (accepts connections, answers nothing) must not stall a wait whose outcome
 * does not depend on it: each node gets PROBE_MS to answer a round, and is named when it does not.
 */
import { keyHashSlot, parseClusterInfo, parseInfo, parseReplicationInfo, referenceView, slotInRanges } from '../../cluster';
import type Redis from 'ioredis';
import type { NodeConnector } from './connection';
import { observeCluster } from './cluster';
import { clusterNodes, pipelineChecked, pipelineReplies } from './commands';
import { heartbeating } from '../heartbeat';
import { pause, pollUntil, within } from '../../util/polling';

const POLL_MS = 100;
/** Redis's CLUSTER_MF_TIMEOUT plus a margin. */
const MANUAL_FAILOVER_TIMEOUT_MS = 5_500;
/** How long one node may take to answer within a round before the round goes on without it. */
const PROBE_MS = 1_500;
/** A node silent this long (while others answer) counts as hung rather than slow. */
const HUNG_AFTER_MS = 5_000;

export interface PromotionObserved {
  failFlaggedAt?: number;
  promotedAt: number;
  newMaster: { id: string; address: string };
  /** When the promoted replica first accepted a write (SET of a probe key in the shard's slots). */
  writableAt?: number;
  /** Nodes that did not answer in the last round (hung or down), besides the stopped master. */
  silent: string[];
}

type Probe<T> = { answered: true; value: T } | { answered: false; why: string };

/** One node's answer within PROBE_MS: a hung node is "no answer within 1.5 s", a refused one "down". */
function probe<T>(connector: NodeConnector, address: string, fn: (r: Redis) => Promise<T>): Promise<Probe<T>> {
  const asked = connector
    .withNode(address, fn)
    .then((value): Probe<T> => ({ answered: true, value }), (err: Error): Probe<T> => ({ answered: false, why: err.message }));
  return within(asked, PROBE_MS, { answered: false, why: `${address} did not answer within ${PROBE_MS / 1000} s (hung?)` } as Probe<T>);
}

/** Tracks since when each node has been silent, to tell a hung node from a slow round. */
class Silence {
  private readonly since = new Map<string, number>();

  note(address: string, answered: boolean, now = Date.now()): void {
    if (answered) this.since.delete(address);
    else if (!this.since.has(address)) this.since.set(address, now);
  }

  /** Nodes silent since their last round. */
  nodes(): string[] {
    return [...this.since.keys()];
  }

  /** Nodes silent for at least `ms`. */
  longerThan(ms: number, now = Date.now()): string[] {
    return [...this.since].filter(([, t]) => now - t >= ms).map(([a]) => a);
  }
}

export function createFailoverActivities(connectorFor: (cluster: string) => NodeConnector) {
  return {
    /** SETs the canary keys on the master and WAITs for a replica to acknowledge them. */
    async writeCanaries(cluster: string, master: string, keys: string[], value: string): Promise<{ written: number; acknowledged: boolean }> {
      return heartbeating({ writingCanaries: keys.length, on: master }, () =>
        connectorFor(cluster).withNode(master, async (redis) => {
          await pipelineChecked(redis, master, keys.map((key) => ['SET', key, value, 'EX', '86400']));
          const replicas = Number(await redis.call('WAIT', '1', '5000'));
          return { written: keys.length, acknowledged: replicas >= 1 };
        }),
      );
    },

    /**
     * Reads every canary from the node that owns its slot now; counts the missing or wrong ones.
     * Read-only, so a retry sees what the first attempt saw; removeCanaries deletes them after.
     * `remove` is for runs recorded before removeCanaries existed: it deletes once every key was
     * read, never between reads.
     */
    async verifyCanaries(cluster: string, seeds: string[], keys: string[], value: string, remove = false): Promise<{ checked: number; lost: string[] }> {
      const connector = connectorFor(cluster);
      return heartbeating({ verifyingCanaries: keys.length }, async () => {
        let pending = [...keys];
        const lost: string[] = [];
        const read: string[] = [];
        for (let round = 0; round < 5 && pending.length > 0; round++) {
          const retry: string[] = [];
          for (const [address, group] of await ownersOf(connector, seeds, pending)) {
            if (!address) {
              retry.push(...group);
              continue;
            }
            await connector.withNode(address, async (redis) => {
              const results = await pipelineReplies(redis, address, group.map((key) => ['GET', key]));
              results.forEach(([err, got], i) => {
                if (err && /MOVED|ASK|CLUSTERDOWN|TRYAGAIN/.test(err.message)) retry.push(group[i]!);
                else if (err || got !== value) lost.push(group[i]!);
                else read.push(group[i]!);
              });
            });
          }
          pending = retry;
          if (pending.length > 0) await pause(500);
        }
        if (remove) await removeKeys(connector, seeds, read);
        return { checked: keys.length, lost: [...lost, ...pending] };
      });
    },

    /** Deletes the canaries wherever they live now; deleting what is gone already is a no-op. */
    async removeCanaries(cluster: string, seeds: string[], keys: string[]): Promise<{ removed: number }> {
      const connector = connectorFor(cluster);
      return heartbeating({ removingCanaries: keys.length }, async () => ({ removed: await removeKeys(connector, seeds, keys) }));
    },

    /**
     * Waits until one of the stopped master's replicas has promoted itself (its own view says
     * myself,master); notes when any other node first flagged the old master fail. With
     * `probeKey` (a key of the shard's slots), then waits until the new master accepts a write,
     * so the report can say how long the shard could not be written.
     */
    async awaitPromotion(cluster: string, oldMaster: { id: string; address: string }, replicas: string[], observers: string[], timeoutMs: number, probeKey?: string): Promise<PromotionObserved> {
      const connector = connectorFor(cluster);
      const silence = new Silence();
      let failFlaggedAt: number | undefined;
      let promoted: { id: string; address: string; at: number } | undefined;
      return pollUntil<PromotionObserved>(
        async () => {
          if (!promoted) {
            const asked = [...replicas, ...observers];
            const answers = await Promise.all(asked.map((a) => probe(connector, a, clusterNodes)));
            const now = Date.now();
            const views = answers.map((p, i) => {
              silence.note(asked[i]!, p.answered, now);
              return p.answered ? p.value : undefined;
            });
            if (failFlaggedAt === undefined && views.some((v) => v?.find((n) => n.id === oldMaster.id)?.flags.includes('fail'))) failFlaggedAt = now;
            const me = views.slice(0, replicas.length).map((v) => v?.find((n) => n.myself)).find((n) => n?.role === 'master');
            if (me) promoted = { id: me.id, address: me.address, at: now };
          }
          const silent = silence.nodes();
          const unanswered = silent.length ? `; no answer from ${silent.join(', ')}` : '';
          if (!promoted) {
            const replicasSilent = replicas.filter((a) => silent.includes(a));
            const why = replicasSilent.length === replicas.length ? `; no replica of ${oldMaster.address} answers, so none can be seen taking over` : '';
            return { done: false, status: `${failFlaggedAt ? `${oldMaster.address} flagged fail, no replica promoted yet` : `waiting for ${oldMaster.address} to be flagged fail`}${unanswered}${why}` };
          }
          const result = { failFlaggedAt, promotedAt: promoted.at, newMaster: { id: promoted.id, address: promoted.address }, silent };
          if (!probeKey) return { done: true, value: result };
          const writer = promoted.address;
          const write = await probe(connector, writer, async (r) => {
            await pipelineChecked(r, writer, [['SET', probeKey, 'failover-probe'], ['DEL', probeKey]]);
          });
          if (write.answered) return { done: true, value: { ...result, writableAt: Date.now() } };
          return { done: false, status: `${promoted.address} promoted, but a write to it failed: ${write.why}${unanswered}` };
        },
        { what: `a replica of ${oldMaster.address} to be promoted`, timeoutMs, intervalMs: POLL_MS },
      );
    },

    /**
     * Waits until each of `addresses` that answers reports cluster_state:ok. A node that has not
     * answered for HUNG_AFTER_MS while a majority did is left out and named in `silent`: the
     * drill does not need a hung node of another shard, and the report says which one it was.
     */
    async awaitClusterStateOk(cluster: string, addresses: string[], timeoutMs: number): Promise<{ okAt: number; silent: string[] }> {
      const connector = connectorFor(cluster);
      const silence = new Silence();
      return pollUntil(
        async () => {
          const answers = await Promise.all(addresses.map((a) => probe(connector, a, async (r) => parseClusterInfo(String(await r.call('CLUSTER', 'INFO'))).state)));
          answers.forEach((p, i) => silence.note(addresses[i]!, p.answered));
          const notOk = addresses.filter((_, i) => answers[i]!.answered && (answers[i] as { value: string }).value !== 'ok');
          const silent = addresses.filter((_, i) => !answers[i]!.answered);
          const hung = silence.longerThan(HUNG_AFTER_MS);
          const enough = (addresses.length - silent.length) * 2 > addresses.length;
          if (notOk.length === 0 && enough && silent.every((a) => hung.includes(a))) return { done: true, value: { okAt: Date.now(), silent } };
          const reasons = [...(notOk.length ? [`not ok yet: ${notOk.join(', ')}`] : []), ...answers.filter((p): p is { answered: false; why: string } => !p.answered).map((p) => p.why)];
          return { done: false, status: reasons.join('; ') };
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
          const answer = await probe(connector, address, async (r) => {
            const me = (await clusterNodes(r)).find((n) => n.myself)!;
            const rep = parseReplicationInfo(parseInfo(String(await r.call('INFO', 'replication'))));
            return { isReplica: me.role === 'replica' && me.masterId === masterId, linkUp: rep.masterLinkUp === true };
          });
          const state = answer.answered ? answer.value : undefined;
          const now = Date.now();
          if (state?.isReplica) replicaAt ??= now;
          if (state?.isReplica && state.linkUp) return { done: true, value: { replicaAt: replicaAt!, linkUpAt: now } };
          return { done: false, status: !answer.answered ? answer.why : state!.isReplica ? 'replica, link not up yet' : `not yet a replica of ${masterId.slice(0, 8)}` };
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
          const answer = await probe(connector, replica, async (r) => (await clusterNodes(r)).find((n) => n.myself));
          if (!answer.answered) return { done: false, status: `CLUSTER FAILOVER sent ${attempts} time(s); ${answer.why}` };
          if (answer.value?.role === 'master') return { done: true, value: { requestedAt, promotedAt: Date.now(), attempts } };
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

/** Where each key lives now: the master that owns its slot in the seeds' reference view ('' when none does). */
async function ownersOf(connector: NodeConnector, seeds: readonly string[], keys: readonly string[]): Promise<Map<string, string[]>> {
  const view = referenceView(await observeCluster(connector, seeds)) ?? [];
  const byOwner = new Map<string, string[]>();
  for (const key of keys) {
    const slot = keyHashSlot(key);
    const owner = view.find((n) => n.role === 'master' && !n.flags.includes('fail') && slotInRanges(slot, n.slots))?.address ?? '';
    byOwner.set(owner, [...(byOwner.get(owner) ?? []), key]);
  }
  return byOwner;
}

/** DEL of each key (one per slot, so one command each) on the master that owns it now; returns how many existed. */
async function removeKeys(connector: NodeConnector, seeds: readonly string[], keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  let removed = 0;
  for (const [address, group] of await ownersOf(connector, seeds, keys)) {
    if (!address) throw new Error(`no master owns the slots of ${group.length} canary keys yet (e.g. ${group[0]})`);
    removed += await connector.withNode(address, async (redis) => {
      const deleted = await pipelineChecked(redis, address, group.map((key) => ['DEL', key]));
      return deleted.reduce<number>((n, got) => n + Number(got), 0);
    });
  }
  return removed;
}
