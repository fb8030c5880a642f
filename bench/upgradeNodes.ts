/**
 * What bench/upgrade does on the nodes directly, with plain ioredis and the process runtime:
 * load keys, wait until a cluster is quiet, and the floor: the rolling upgrade by hand, with the
 * workflow's steps and nothing else (no Temporal, no health or topology checks, 20 ms polls).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { keyHashSlot, parseClusterNodes, parseInfo, type ClusterNode } from '../src/cluster';
import type { ProcessRuntime } from '../src/runtime';

/** A shard of a 3x1 cluster in slot order, with its replica and its master's key count. */
export type Shard = { master: string; replica: string; keys: number };

const POLL_MS = 20;
/** Redis gives a manual failover this long (CLUSTER_MF_TIMEOUT 5 s); failoverTo waits as long before sending it again. */
const MANUAL_FAILOVER_TIMEOUT_MS = 5_500;

export async function withNode<T>(address: string, password: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const [host, port] = address.split(':');
  // No ready check: ioredis would wait out a node's loading in steps of up to a second.
  const redis = new Redis({ host, port: Number(port), password, enableReadyCheck: false, maxRetriesPerRequest: 3 });
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

const infoOf = async (r: Redis, ...sections: string[]) => parseInfo(String(await r.call('INFO', ...sections)));

/** The seed's shards, once it sees a replica for each of 3 masters. */
export async function shardsOf(seed: string, password: string): Promise<Shard[]> {
  for (let tries = 0; ; tries++) {
    const view = await withNode(seed, password, async (r) => parseClusterNodes(String(await r.call('CLUSTER', 'NODES'))));
    const masters = view.filter((n) => n.role === 'master' && n.slots.length > 0).sort((a, b) => a.slots[0]!.start - b.slots[0]!.start);
    const replicaOf = (m: ClusterNode) => view.find((n) => n.masterId === m.id)?.address;
    if (masters.length === 3 && masters.every(replicaOf)) {
      return Promise.all(masters.map(async (m) => ({ master: m.address, replica: replicaOf(m)!, keys: await withNode(m.address, password, (r) => r.dbsize()) })));
    }
    if (tries === 100) throw new Error(`${seed} does not see 3 masters with a replica each:\n${view.map((n) => `${n.address} ${n.role} ${n.masterId ?? ''}`).join('\n')}`);
    await sleep(200);
  }
}

/** SETs key:0 .. key:<count - 1>, pipelined 20,000 at a time, each to its slot's master. */
export async function loadKeys(shards: Shard[], count: number, valueOf: (k: number) => string, password: string): Promise<void> {
  const view = await withNode(shards[0]!.master, password, async (r) => parseClusterNodes(String(await r.call('CLUSTER', 'NODES'))));
  const owner = new Array<string>(16384);
  for (const m of view) for (const range of m.role === 'master' ? m.slots : []) for (let s = range.start; s <= range.end; s++) owner[s] = m.address;
  const conns = new Map(shards.map((s) => [s.master, new Redis({ host: '127.0.0.1', port: Number(s.master.split(':')[1]), password })] as const));
  try {
    for (let i = 0; i < count; i += 20_000) {
      const pipes = new Map([...conns].map(([a, r]) => [a, r.pipeline()] as const));
      for (let k = i; k < Math.min(i + 20_000, count); k++) pipes.get(owner[keyHashSlot(`key:${k}`)]!)!.set(`key:${k}`, valueOf(k));
      await Promise.all([...pipes.values()].map((p) => p.exec()));
    }
  } finally {
    for (const r of conns.values()) r.disconnect();
  }
}

/**
 * Every side starts alike: no AOF rewrite or save running (a replica writes its first AOF after
 * a full sync, and refuses SIGTERM meanwhile), every replica linked, holding its shard's keys.
 */
export async function settle(shards: Shard[], password: string): Promise<void> {
  for (const s of shards) {
    for (const node of [s.master, s.replica]) {
      await withNode(node, password, async (r) => {
        for (;;) {
          const { persistence: p = {}, replication: rep = {} } = await infoOf(r, 'persistence', 'replication');
          const busy = p.loading !== '0' || p.aof_rewrite_in_progress !== '0' || p.aof_rewrite_scheduled !== '0' || p.rdb_bgsave_in_progress !== '0';
          const behind = rep.role === 'slave' && (rep.master_link_status !== 'up' || rep.master_sync_in_progress !== '0');
          if (!busy && !behind && (await r.dbsize()) === s.keys) return;
          await sleep(100);
        }
      });
    }
  }
}

/** Until the node (just restarted) has loaded, is a replica with its link up and no sync in progress. */
async function awaitLinkedAndSynced(node: string, password: string): Promise<void> {
  await withNode(node, password, async (r) => {
    for (;;) {
      const { persistence: p = {}, replication: rep = {} } = await infoOf(r, 'persistence', 'replication');
      if (p.loading === '0' && rep.role === 'slave' && rep.master_link_status === 'up' && rep.master_sync_in_progress === '0') return;
      await sleep(POLL_MS);
    }
  });
}

/** CLUSTER FAILOVER on the replica until ROLE says master; sent again when Redis gave up on it. */
async function failOverTo(replica: string, password: string): Promise<number> {
  return withNode(replica, password, async (r) => {
    let attempts = 0;
    let sentAt = 0;
    for (;;) {
      if (Date.now() - sentAt > MANUAL_FAILOVER_TIMEOUT_MS) {
        await r.call('CLUSTER', 'FAILOVER');
        attempts++;
        sentAt = Date.now();
      }
      if (((await r.call('ROLE')) as unknown[])[0] === 'master') return attempts;
      await sleep(POLL_MS);
    }
  });
}

export interface FloorRun {
  ms: number;
  /** Summed over nodes (or failovers); with shards in parallel they overlap. */
  replaceMs: number;
  syncMs: number;
  failoverMs: number;
  failoverAttempts: number;
  /** Starts retried because the node's bus port (port + 10000, in the ephemeral range) was taken. */
  startRetries: number;
}

/**
 * The floor: per shard, replace the replica and await it linked and synced; CLUSTER FAILOVER to
 * it until it is master; replace the old master and await it linked and synced. `shardsInParallel`
 * shards at a time, as the workflow's waves.
 */
export async function upgradeByHand(runtime: ProcessRuntime, shards: Shard[], version: string, password: string, shardsInParallel = 1): Promise<FloorRun> {
  const run: FloorRun = { ms: 0, replaceMs: 0, syncMs: 0, failoverMs: 0, failoverAttempts: 0, startRetries: 0 };
  const timed = async <T>(phase: 'replaceMs' | 'syncMs' | 'failoverMs', fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      run[phase] += Date.now() - t;
    }
  };
  const start = (node: string, tries: number): Promise<void> =>
    runtime.start(node).catch((err: unknown) => (tries > 1 ? (run.startRetries++, start(node, tries - 1)) : Promise.reject(err)));
  const replace = async (node: string) => {
    // replace() has stopped the node and recorded the version when its start fails: start again.
    await timed('replaceMs', () => runtime.replace(node, version).catch(() => (run.startRetries++, start(node, 2))));
    await timed('syncMs', () => awaitLinkedAndSynced(node, password));
  };
  const upgradeShard = async (s: Shard) => {
    await replace(s.replica);
    // Read after the await: `run.failoverAttempts += await ...` would add to a stale value when shards run in parallel.
    const attempts = await timed('failoverMs', () => failOverTo(s.replica, password));
    run.failoverAttempts += attempts;
    await replace(s.master);
  };
  const t0 = Date.now();
  for (let i = 0; i < shards.length; i += shardsInParallel) await Promise.all(shards.slice(i, i + shardsInParallel).map(upgradeShard));
  run.ms = Date.now() - t0;
  return run;
}

/** Each node's redis_version, role and key count, to check a side really upgraded and kept every key. */
export async function describeNodes(nodes: string[], password: string): Promise<{ address: string; version: string; role: string; keys: number }[]> {
  return Promise.all(
    nodes.map((address) =>
      withNode(address, password, async (r) => {
        const info = await infoOf(r, 'server', 'replication');
        return { address, version: info.server?.redis_version ?? '?', role: info.replication?.role ?? '?', keys: await r.dbsize() };
      }),
    ),
  );
}
