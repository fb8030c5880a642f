import { diagnoseCluster, parseNodeDiagnostics, summarizeCommand, type NodeDiagnostics } from '../../src/cluster/diagnosis';
import { headroomProblems, planMemoryRebalance, type MasterLoad } from '../../src/cluster/capacity';
import { countSlots } from '../../src/cluster';
import type { TopologyShard } from '../../src/cluster';

const MiB = 1024 ** 2;

function info(fields: Record<string, string | number>, extra = ''): string {
  return `# Server\r\nredis_version:7.0.15\r\n# Memory\r\n${Object.entries(fields).map(([k, v]) => `${k}:${v}`).join('\r\n')}\r\n${extra}`;
}

const master = (address: string, over: Partial<Record<string, string | number>> = {}, replicas = '') =>
  parseNodeDiagnostics(address, {
    info: info({ used_memory: 10 * MiB, used_memory_dataset: 8 * MiB, used_memory_rss: 12 * MiB, maxmemory: 0, maxmemory_policy: 'noeviction', mem_fragmentation_ratio: 1.2, evicted_keys: 0, connected_clients: 3, blocked_clients: 0, role: 'master', master_repl_offset: 5000, ...over }, `# Replication\r\n${replicas}# Keyspace\r\ndb0:keys=${over.keys ?? 1000},expires=0,avg_ttl=0\r\n`),
    latency: [], slowlog: [], config: { maxclients: '10000', 'latency-monitor-threshold': '0' },
  });

const shard = (slots: string, m: string, r: string): TopologyShard => ({ master: { id: m, address: m, configEpoch: 1 }, slots, slotCount: 1, replicas: [{ id: r, address: r }] });

test('INFO, LATENCY LATEST and SLOWLOG are parsed; a slow command keeps its name and key, never a value or a secret', () => {
  const n = parseNodeDiagnostics('10.0.0.1:7001', {
    info: info({ used_memory: 100, role: 'slave', master_host: '10.0.0.2', master_port: 7002, master_link_status: 'up', master_last_io_seconds_ago: 1, slave_repl_offset: 42 }, '# Keyspace\r\ndb0:keys=7,expires=2,avg_ttl=0\r\n'),
    latency: [['command', 1700000000, 120, 250]],
    slowlog: [[1, 1700000000, 15000, ['SET', 'user:1', 'secret-value'], '1.2.3.4:5', ''], [2, 1700000001, 30000, ['AUTH', 'ops', 'pw'], '', '']],
    config: { maxclients: '100', 'latency-monitor-threshold': '50' },
  });
  expect(n).toMatchObject({ role: 'replica', keys: 7, expires: 2, replication: { master: '10.0.0.2:7002', linkUp: true, offset: 42 }, latency: [{ event: 'command', maxMs: 250, latestMs: 120 }], latencyThresholdMs: 50, clients: { maxclients: 100 } });
  expect(n.slowlog).toEqual([{ at: 1700000001, micros: 30000, command: 'AUTH (2 args withheld)' }, { at: 1700000000, micros: 15000, command: 'SET user:1 (+1 args)' }]);
  expect(summarizeCommand(['config', 'set', 'masterauth', 'x'])).toBe('CONFIG SET (2 args withheld)');
  expect(summarizeCommand(['HGETALL', 'k'.repeat(60)])).toBe(`HGETALL ${'k'.repeat(40)}...`);
});

test('memory near its limit, evictions, a lagging replica and a skewed shard each become a finding with advice', () => {
  const nodes: NodeDiagnostics[] = [
    master('a:1', { used_memory: 95 * MiB, maxmemory: 100 * MiB, evicted_keys: 12 }, 'slave0:ip=b,port=1,state=online,offset=5000,lag=0\r\n'),
    master('c:1', { keys: 9000, used_memory_dataset: 60 * MiB, master_repl_offset: 9 * MiB }, 'slave0:ip=d,port=1,state=online,offset=1000,lag=1\r\n'),
    master('e:1', {}, 'slave0:ip=f,port=1,state=online,offset=5000,lag=0\r\n'),
  ];
  const d = diagnoseCluster(nodes, [shard('0-5460', 'a:1', 'b:1'), shard('5461-10922', 'c:1', 'd:1'), shard('10923-16383', 'e:1', 'f:1')]);
  const codes = d.findings.map((f) => [f.code, f.node, f.severity].filter(Boolean).join(' '));
  expect(codes).toEqual(expect.arrayContaining(['MEMORY_NEAR_LIMIT a:1 critical', 'KEYS_EVICTED a:1 warning', 'REPLICA_LAGGING c:1 warning', 'SHARD_KEY_SKEW c:1 warning', 'SHARD_MEMORY_SKEW c:1 warning', 'MEMORY_NO_LIMIT info']));
  expect(d.findings.every((f) => f.advice.length > 20)).toBe(true);
  expect(d.memoryUsedRatioMax).toBe(0.95);
  expect(d.evictedKeys).toBe(12);
  expect(d.replicationLagBytesMax).toBe(9 * MiB - 1000);
  expect(d.shards[1]).toMatchObject({ keys: 9000, keysVsMean: 2.45 });
});

test('a healthy, even cluster has no warnings; small differences are not skew', () => {
  const nodes = ['a:1', 'c:1', 'e:1'].map((a, i) => master(a, { keys: 1000 + i * 10, maxmemory: 1024 * MiB }));
  const d = diagnoseCluster(nodes, [shard('0-5460', 'a:1', 'b:1'), shard('5461-10922', 'c:1', 'd:1'), shard('10923-16383', 'e:1', 'f:1')]);
  expect(d.findings).toEqual([]);
});

test('big keys over the bound are findings; a partial or skipped scan says so', () => {
  const d = diagnoseCluster([], [], [
    { slots: '0-5460', master: 'a:1', replica: 'b:1', scanned: 10, keysInShard: 10, complete: true, ms: 5, largest: [{ key: 'huge', bytes: 5 * MiB, type: 'string' }, { key: 'small', bytes: 100, type: 'hash' }] },
    { slots: '5461-10922', master: 'c:1', replica: 'd:1', scanned: 5, keysInShard: 10, complete: false, ms: 10_000, largest: [] },
    { slots: '10923-16383', master: 'e:1', skipped: 'no replica in sync (masters are not scanned)', scanned: 0, keysInShard: 0, complete: false, ms: 0, largest: [] },
  ]);
  expect(d.findings.map((f) => [f.code, f.node, f.message])).toEqual([
    ['BIG_KEY', 'a:1', 'string "huge" uses 5.0 MiB (MEMORY USAGE on replica b:1)'],
    ['BIG_KEY_SCAN_PARTIAL', 'c:1', '5 of 10 keys scanned on d:1 in 10.0 s'],
    ['BIG_KEY_SCAN_PARTIAL', 'e:1', 'not scanned: no replica in sync (masters are not scanned)'],
  ]);
});

const load = (id: string, from: number, to: number, keysPerSlot: (s: number) => number, bytesPerKey = 100, maxmemory = 0): MasterLoad => {
  const slotBytes: number[] = [];
  let keys = 0;
  for (let s = from; s <= to; s++) if (keysPerSlot(s) > 0) { slotBytes.push(s, keysPerSlot(s) * bytesPerKey); keys += keysPerSlot(s); }
  return { id, address: `${id}:1`, slots: to >= from ? [{ start: from, end: to }] : [], usedBytes: keys * bytesPerKey + MiB, maxmemory, slotBytes };
};

test('a memory-weighted plan evens out the data, not the slot counts, and leaves a single heavy slot where it is', () => {
  // a holds three times the data of b and c per slot, plus one hot slot.
  const loads = [load('a', 0, 5460, (s) => (s === 100 ? 50_000 : 30)), load('b', 5461, 10922, () => 10), load('c', 10923, 16383, () => 10)];
  const plan = planMemoryRebalance(loads);
  const { before, after } = plan.memory;
  const spread = (m: Record<string, number>) => Math.max(...Object.values(m)) / Math.min(...Object.values(m));
  expect(spread(before)).toBeGreaterThan(3);
  expect(spread(after)).toBeLessThan(1.1);
  expect(plan.moves.every((m) => m.from.id === 'a')).toBe(true);
  expect(plan.moves.some((m) => m.slots.some((r) => r.start <= 100 && r.end >= 100))).toBe(false);
  expect(plan.targets.a).toBeLessThan(5461);
  expect(Object.values(plan.targets).reduce((x, y) => x + y, 0)).toBe(16384);
  // Already even: nothing moves.
  expect(planMemoryRebalance([load('a', 0, 5460, () => 10), load('b', 5461, 10922, () => 10), load('c', 10923, 16383, () => 10)]).moves).toEqual([]);
});

test('a drain gives every slot away, and the headroom check names a receiver that would pass its limit', () => {
  // b and c hold their share already: the empty d takes all of a's 52 MiB, past 90% of its 50 MiB.
  const loads = [load('a', 0, 5460, () => 100, 100, 0), load('b', 5461, 10922, () => 100, 100, 100 * MiB), load('c', 10923, 16383, () => 100, 100, 60 * MiB), load('d', 1, 0, () => 0, 100, 50 * MiB)];
  const plan = planMemoryRebalance(loads, { weights: { a: 0 } });
  expect(plan.targets.a).toBe(0);
  expect(plan.moves.reduce((n, m) => n + countSlots(m.slots), 0)).toBe(5461);
  const tight = headroomProblems(plan, loads, 0.9);
  expect(tight.map((p) => p.master)).toEqual(['d:1']);
  expect(tight[0]!.incomingBytes).toBe(5461 * 100 * 100);
  expect(headroomProblems(plan, loads, 1).map((p) => p.master)).toEqual(['d:1']);
  expect(headroomProblems({ moves: [] }, loads, 0.9)).toEqual([]);
});
