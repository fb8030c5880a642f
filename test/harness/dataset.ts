/** Test data across all slots, and a digest of every key's content to prove nothing was lost or changed. */
import { createHash } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import { password, withRedis } from './cluster';
import { splitAddress } from '../../src/cluster';

export function clusterClient(seed: string): Cluster {
  const { host, port } = splitAddress(seed);
  return new Cluster([{ host, port }], { redisOptions: { password: password() }, scaleReads: 'master' });
}

/** `strings` string keys plus hashes, lists and sets of `elements` elements each. */
export async function loadDataset(seed: string, strings = 20_000, collections = 5, elements = 2_000): Promise<void> {
  const cluster = clusterClient(seed);
  try {
    for (let i = 0; i < strings; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, strings - i) }, (_, j) => cluster.set(`str:${i + j}`, `value-${i + j}-${'x'.repeat(50)}`)));
    }
    const members = Array.from({ length: elements }, (_, i) => `m${i}`);
    for (let c = 0; c < collections; c++) {
      await cluster.hset(`hash:${c}`, Object.fromEntries(members.map((m) => [m, `v-${m}`])));
      await cluster.rpush(`list:${c}`, ...members);
      await cluster.sadd(`set:${c}`, ...members);
    }
  } finally {
    cluster.disconnect();
  }
}

export interface DatasetDigest {
  keys: number;
  digest: string;
  /** Key count per slot, only the slots that have keys. */
  perSlot: Record<number, number>;
}

/**
 * The canonical content of a key. DUMP bytes are not canonical: a hash or set in a hash table
 * serializes in table order, which RESTORE on another node may change; so values are read by
 * type and sorted where the type is unordered.
 */
async function canonical(r: Redis, key: string): Promise<string> {
  const type = await r.type(key);
  switch (type) {
    case 'string':
      return `string:${await r.get(key)}`;
    case 'list':
      return `list:${JSON.stringify(await r.lrange(key, 0, -1))}`;
    case 'set':
      return `set:${JSON.stringify((await r.smembers(key)).sort())}`;
    case 'hash':
      return `hash:${JSON.stringify(Object.entries(await r.hgetall(key)).sort())}`;
    case 'zset':
      return `zset:${JSON.stringify(await r.zrange(key, 0, -1, 'WITHSCORES'))}`;
    default:
      return `${type}:${(await r.dumpBuffer(key))?.toString('hex')}`;
  }
}

/** SCAN every master and read every key; the digest is over the sorted (key, content) pairs. */
export async function digestDataset(masters: readonly string[]): Promise<DatasetDigest> {
  const entries: [string, string][] = [];
  const perSlot: Record<number, number> = {};
  for (const address of masters) {
    await withRedis(address, async (r) => {
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          entries.push([key, createHash('sha256').update(await canonical(r, key)).digest('hex')]);
          const slot = Number(await r.call('CLUSTER', 'KEYSLOT', key));
          perSlot[slot] = (perSlot[slot] ?? 0) + 1;
        }
      } while (cursor !== '0');
    });
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const hash = createHash('sha256');
  for (const [k, d] of entries) hash.update(`${k}\0${d}\n`);
  return { keys: entries.length, digest: hash.digest('hex'), perSlot };
}
