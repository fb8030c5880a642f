/**
 * What clusterHealth's diagnosis asks the nodes: INFO, LATENCY LATEST, SLOWLOG and two settings
 * from every node (read-only, cheap), and, when asked, the largest keys of each shard by SCAN and
 * MEMORY USAGE on one of its replicas, within a time budget and at a bounded rate, so the masters
 * serving the traffic are never scanned.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseNodeDiagnostics, type BigKeyScan, type NodeDiagnostics } from '../../cluster/diagnosis';
import type { NodeConnector } from './connection';
import { heartbeating, throwIfCancelled } from '../heartbeat';

/** How a big-key scan is bounded: per shard, in parallel over shards. */
export interface BigKeyScanLimits {
  /** The longest a shard's scan may take. */
  seconds: number;
  /** Keys asked about per second on each replica. */
  keysPerSecond: number;
  /** The largest keys kept per shard. */
  top: number;
}

/** A shard to scan: its slots, its master, its replicas with whether each is in sync. */
export interface ShardToScan {
  slots: string;
  master: string;
  replicas: { address: string; inSync: boolean }[];
}

const SCAN_COUNT = 200;

export function createDiagnosisActivities(connectorFor: (cluster: string) => NodeConnector) {
  return {
    /** Every node's INFO, LATENCY LATEST, SLOWLOG GET 32 and its maxclients and latency-monitor-threshold; a node that fails is an entry with its error. */
    async collectNodeDiagnostics(cluster: string, addresses: string[]): Promise<NodeDiagnostics[]> {
      const connector = connectorFor(cluster);
      return Promise.all(
        addresses.map(async (address): Promise<NodeDiagnostics> => {
          try {
            return await connector.withNode(address, async (redis) => {
              const [info, latency, slowlog, maxclients, threshold] = await Promise.all([
                redis.call('INFO'),
                redis.call('LATENCY', 'LATEST'),
                redis.call('SLOWLOG', 'GET', '32'),
                redis.call('CONFIG', 'GET', 'maxclients') as Promise<string[]>,
                redis.call('CONFIG', 'GET', 'latency-monitor-threshold') as Promise<string[]>,
              ]);
              const config = Object.fromEntries([maxclients, threshold].flatMap((pair) => (pair.length >= 2 ? [[String(pair[0]), String(pair[1])]] : [])));
              return parseNodeDiagnostics(address, { info: String(info), latency, slowlog, config });
            });
          } catch (err) {
            return { address, error: (err as Error).message };
          }
        }),
      );
    },

    /**
     * The largest keys of each shard, scanned on an in-sync replica (READONLY, SCAN, MEMORY USAGE
     * and TYPE in pipelines), never on a master: a shard without one is reported as skipped. Each
     * shard's scan stops at its time budget and never asks about more keys per second than the
     * limit. Read-only, so a retry simply scans again.
     */
    async scanBigKeys(cluster: string, shards: ShardToScan[], limits: BigKeyScanLimits): Promise<BigKeyScan[]> {
      const connector = connectorFor(cluster);
      const progress = new Map<string, number>();
      return heartbeating(() => ({ scanned: Object.fromEntries(progress) }), (cancelled) =>
        Promise.all(shards.map(async (shard): Promise<BigKeyScan> => {
          const base = { slots: shard.slots, master: shard.master, scanned: 0, keysInShard: 0, complete: false, ms: 0, largest: [] };
          const replica = shard.replicas.find((r) => r.inSync)?.address;
          if (!replica) return { ...base, skipped: shard.replicas.length ? 'no replica in sync (masters are not scanned)' : 'the shard has no replica (masters are not scanned)' };
          try {
            return await connector.withNode(replica, (redis) => scanShard(redis, shard, replica, limits, (n) => progress.set(replica, n)));
          } catch (err) {
            if (cancelled.aborted) throw err;
            return { ...base, replica, skipped: `scanning ${replica} failed: ${(err as Error).message}` };
          }
        })),
      );
    },
  };
}

type Connection = Parameters<Parameters<NodeConnector['withNode']>[1]>[0];

/** One shard's scan; a cancelled activity stops it between pipelines. */
async function scanShard(redis: Connection, shard: ShardToScan, replica: string, limits: BigKeyScanLimits, onProgress: (scanned: number) => void): Promise<BigKeyScan> {
  const started = Date.now();
  const deadline = started + limits.seconds * 1000;
  await redis.call('READONLY');
  const keysInShard = Number(await redis.call('DBSIZE'));
  const largest: { key: string; bytes: number }[] = [];
  let cursor = '0';
  let scanned = 0;
  let complete = false;
  while (Date.now() < deadline) {
    throwIfCancelled();
    const [next, keys] = (await redis.call('SCAN', cursor, 'COUNT', String(SCAN_COUNT))) as [string, string[]];
    if (keys.length) {
      const sizes = (await redis.pipeline(keys.map((k) => ['memory', 'usage', k])).exec()) ?? [];
      keys.forEach((key, i) => {
        const [err, bytes] = sizes[i] ?? [];
        if (!err && bytes !== null) keepLargest(largest, { key, bytes: Number(bytes) }, limits.top);
      });
      scanned += keys.length;
      onProgress(scanned);
    }
    cursor = String(next);
    if (cursor === '0') {
      complete = true;
      break;
    }
    // The rate bound: never ahead of keysPerSecond since the scan started.
    const ahead = (scanned / limits.keysPerSecond) * 1000 - (Date.now() - started);
    if (ahead > 0) await sleep(Math.min(ahead, Math.max(0, deadline - Date.now())));
  }
  const types = largest.length ? ((await redis.pipeline(largest.map((k) => ['type', k.key])).exec()) ?? []) : [];
  return {
    slots: shard.slots,
    master: shard.master,
    replica,
    scanned,
    keysInShard,
    complete,
    ms: Date.now() - started,
    largest: largest.map((k, i) => ({ ...k, type: String(types[i]?.[1] ?? '?') })),
  };
}

/** Keeps the `top` largest, largest first. */
function keepLargest(list: { key: string; bytes: number }[], item: { key: string; bytes: number }, top: number): void {
  if (list.length >= top && item.bytes <= list[list.length - 1]!.bytes) return;
  const at = list.findIndex((k) => k.bytes < item.bytes);
  list.splice(at === -1 ? list.length : at, 0, item);
  if (list.length > top) list.pop();
}
