/**
 * clusterHealth's diagnosis and capacity-aware resharding (issue #14 items 3 and 4) on a real
 * 6-node cluster: a planted big key, a shard skewed by a hot hash tag and a replica made to lag
 * (CLIENT PAUSE WRITE on it while its master takes writes) are each found and named, the big
 * keys by scanning replicas within a time and rate bound; the CLI shows it as a report. Then a
 * rebalance weighed by memory evens out a shard that holds more data, and one that would fill a
 * master past its maxmemory is refused with nothing moved. Last, a health Schedule with heal on
 * finds a shard whose master and replica were killed and starts the repair that brings it back.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type Redis from 'ioredis';
import { runCli } from '../../src/client/cli/program';
import { processIo } from '../../src/client/cli/session';
import { deleteBackupSchedule, upsertHealthSchedule } from '../../src/client/schedules';
import { healWorkflowId, type ClusterHealthResult } from '../../src/workflows/clusterHealth';
import type { RebalanceReport } from '../../src/workflows/rebalance';
import { recordHistory, runWorkflow, runWorkflowFailure, testClient, TestCluster, withRedis, workflowId } from '../harness/cluster';
import { testDataConverter } from '../harness/codec';
import { clusterClient, loadDataset } from '../harness/dataset';
import { ROOT, TEMPORAL_ADDRESS } from '../harness/env';
import { eventually } from '../helpers/waitFor';

const name = 'diagnosis';
const MiB = 1024 ** 2;
let cluster: TestCluster;

const health = (input: Record<string, unknown> = {}) => runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: name, ...input });

/** A hash tag whose keys land in the shard that owns `slots` ("a-b"), found by asking a node. */
async function tagIn(slots: string, avoid: string[] = []): Promise<string> {
  const [start, end] = slots.split('-').map(Number) as [number, number];
  return withRedis(cluster.nodes[0]!, async (r) => {
    for (let i = 0; ; i++) {
      const slot = Number(await r.call('CLUSTER', 'KEYSLOT', `{t${i}}`));
      if (slot >= start && slot <= end && !avoid.includes(`{t${i}}`)) return `{t${i}}`;
    }
  });
}

/** Waits until every replica of `master` has all of its stream (INFO replication offsets equal). */
async function caughtUp(master: string): Promise<void> {
  let last = '';
  for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    const info = String(await withRedis(master, (r) => r.call('INFO', 'replication')));
    const offset = /master_repl_offset:(\d+)/.exec(info)![1];
    last = info.split('\n').filter((l) => l.startsWith('slave')).join(' ');
    if ([...info.matchAll(/offset=(\d+)/g)].every((m) => m[1] === offset)) return;
  }
  throw new Error(`the replicas of ${master} did not catch up in 30 s; last: ${last}`);
}

async function datasets(report: ClusterHealthResult): Promise<number[]> {
  return Promise.all(report.shards.map((s) => withRedis(s.master.address, async (r) => Number(/used_memory_dataset:(\d+)/.exec(String(await r.call('INFO', 'memory')))![1]))));
}

async function totalKeys(report: ClusterHealthResult): Promise<number> {
  const counts = await Promise.all(report.shards.map((s) => withRedis(s.master.address, (r) => r.dbsize())));
  return counts.reduce((a, b) => a + b, 0);
}

beforeAll(async () => {
  cluster = await TestCluster.start(name);
  await loadDataset(cluster.nodes[0]!, 3_000, 0, 0);
});
afterAll(async () => {
  await cluster?.destroy();
});

describe('diagnosis', () => {
  let before: ClusterHealthResult;
  let paused: string;
  let lagging: string;

  beforeAll(async () => {
    before = await health();
    const [first, second, third] = before.shards;
    const client = clusterClient(cluster.nodes[0]!);
    try {
      // A big key in the first shard: one 3 MiB string.
      await client.set(`${await tagIn(first!.slots)}:big`, 'b'.repeat(3 * MiB));
      // A hot hash tag in the second: 6000 small keys in one slot.
      const hot = await tagIn(second!.slots);
      for (let i = 0; i < 6000; i += 500) await Promise.all(Array.from({ length: 500 }, (_, j) => client.set(`${hot}:${i + j}`, 'v')));
      await Promise.all([first!, second!].map((s) => caughtUp(s.master.address)));
      // The third shard's replica stops applying its master's stream (it still answers reads), then the master takes 2 MiB.
      paused = third!.replicas[0]!.address;
      lagging = third!.master.address;
      await withRedis(paused, (r) => r.call('CLIENT', 'PAUSE', '60000', 'WRITE'));
      const tag = await tagIn(third!.slots);
      await Promise.all(Array.from({ length: 40 }, (_, i) => client.set(`${tag}:lag:${i}`, 'l'.repeat(50 * 1024))));
    } finally {
      client.disconnect();
    }
  });
  afterAll(async () => {
    if (paused) await withRedis(paused, (r) => r.call('CLIENT', 'UNPAUSE'));
  });

  test('a healthy, unplanted cluster: per node and per shard figures, no warning', () => {
    const d = before.diagnosis!;
    expect(d.nodes.map((n) => n.address).sort()).toEqual([...cluster.nodes].sort());
    expect(d.nodes.every((n) => !n.error && n.memory!.used > 0)).toBe(true);
    expect(d.shards.map((s) => s.keys).reduce((a, b) => a + b, 0)).toBe(3000);
    expect(d.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(d.findings.map((f) => f.code)).toContain('MEMORY_NO_LIMIT');
  });

  test('the big key, the skewed shard and the lagging replica are each found, named and given advice; the cluster is still healthy', async () => {
    const id = workflowId('health-diagnosis');
    const report = await runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: name, bigKeys: { seconds: 20, keysPerSecond: 20_000 } }, id);
    await recordHistory(id, 'clusterHealth-diagnosis-big-keys');
    expect(report.healthy).toBe(true);
    const d = report.diagnosis!;
    const [first, second] = report.shards;
    const found = (code: string) => d.findings.filter((f) => f.code === code);

    expect(found('BIG_KEY').map((f) => [f.node, f.slots])).toEqual([[first!.master.address, first!.slots]]);
    expect(found('BIG_KEY')[0]!.message).toMatch(/^string "\{t\d+\}:big" uses 3\.\d MiB \(MEMORY USAGE on replica /);
    expect(found('SHARD_KEY_SKEW').map((f) => f.node)).toEqual([second!.master.address]);
    expect(found('REPLICA_LAGGING').map((f) => f.node)).toEqual([lagging]);
    expect(found('REPLICA_LAGGING')[0]!.message).toContain(`replica ${paused} is`);
    expect(d.replicationLagBytesMax).toBeGreaterThan(MiB);
    for (const f of d.findings) expect(f.advice.length).toBeGreaterThan(20);

    // Scanned on replicas, never on masters, to the end of each shard.
    const replicas = new Set(report.shards.flatMap((s) => s.replicas.map((r) => r.address)));
    expect(d.bigKeys!.map((s) => [replicas.has(s.replica!), s.complete])).toEqual([[true, true], [true, true], [true, true]]);
    expect(d.bigKeys![0]!.largest[0]).toMatchObject({ type: 'string' });
    expect(d.bigKeys![1]!.scanned).toBeGreaterThanOrEqual(6000);
  });

  test('a scan stops at its time budget and keeps to its rate, and says it is partial', async () => {
    const report = await health({ bigKeys: { seconds: 1, keysPerSecond: 200 } });
    const scans = report.diagnosis!.bigKeys!;
    expect(scans.every((s) => !s.complete && s.scanned <= 600 && s.ms < 5_000)).toBe(true);
    expect(report.diagnosis!.findings.filter((f) => f.code === 'BIG_KEY_SCAN_PARTIAL')).toHaveLength(3);
  });

  test('a replica that hangs (SIGSTOP) is named by the verdict, its shard is not scanned (nor its master instead), and the check still returns', async () => {
    const shard = before.shards[0]!;
    const hung = shard.replicas[0]!.address;
    process.kill(cluster.pid(hung), 'SIGSTOP');
    try {
      const report = await health({ bigKeys: { seconds: 5 } });
      expect(report.findings.filter((f) => f.node === hung).map((f) => f.code)).toContain('NODE_UNREACHABLE');
      const d = report.diagnosis!;
      // Only the nodes that answered the health check are asked; the verdict names the one that did not.
      expect(d.nodes.map((n) => n.address)).not.toContain(hung);
      expect(d.nodes).toHaveLength(5);
      const scan = d.bigKeys!.find((s) => s.master === shard.master.address)!;
      expect(scan).toMatchObject({ scanned: 0, skipped: 'no replica in sync (masters are not scanned)' });
      expect(scan.replica).toBeUndefined();
      expect(d.bigKeys!.filter((s) => s.master !== shard.master.address).every((s) => s.complete)).toBe(true);
    } finally {
      process.kill(cluster.pid(hung), 'SIGCONT');
    }
  });

  test('redisforge health --big-keys prints the report (kept for the README) and --json the data', async () => {
    const lines: string[] = [];
    const connect = async () => new Client({ connection: await Connection.connect({ address: TEMPORAL_ADDRESS }), dataConverter: testDataConverter() });
    const io = { ...processIo(), connect, stdout: (text: string) => void lines.push(text.replace(/\n$/, '')) };
    expect(await runCli(['health', '--cluster', name, '--big-keys', '--scan-seconds', '20', '--top', '3'], io)).toBe(0);
    const text = lines.join('\n');
    for (const shown of ['Diagnosis, per node:', 'Per shard:', 'Largest keys', 'BIG_KEY', 'SHARD_KEY_SKEW', 'REPLICA_LAGGING', '-> ']) expect(text).toContain(shown);
    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    writeFileSync(join(ROOT, 'test-results', 'diagnosis-report.txt'), `${text}\n`);
    lines.length = 0;
    expect(await runCli(['health', '--cluster', name, '--no-diagnose', '--json'], io)).toBe(0);
    expect(JSON.parse(lines.at(-1)!).result.diagnosis).toBeUndefined();
  });
});

describe('capacity-aware rebalance', () => {
  const setMaxmemory = (report: ClusterHealthResult, bytes: (used: number) => number) =>
    Promise.all(report.shards.map((s) => withRedis(s.master.address, async (r: Redis) => {
      const used = Number(/used_memory:(\d+)/.exec(String(await r.call('INFO', 'memory')))![1]);
      await r.call('CONFIG', 'SET', 'maxmemory', String(bytes(used)));
    })));

  test('weighed by memory, a rebalance moves slots off the shard with more data until the data is even, every key kept', async () => {
    const start = await health({ diagnose: false });
    const [first] = start.shards;
    // 8 MiB more in the first shard, spread over many slots (one key per tag, tags of its range).
    const client = clusterClient(cluster.nodes[0]!);
    try {
      const tags: string[] = [];
      while (tags.length < 400) tags.push(await tagIn(first!.slots, tags));
      await Promise.all(tags.map((t) => client.set(`${t}:heavy`, 'h'.repeat(20 * 1024))));
    } finally {
      client.disconnect();
    }
    const keys = await totalKeys(start);
    const spread = (xs: number[]) => Math.max(...xs) / Math.min(...xs);
    const was = await datasets(start);

    const dry = await runWorkflow<RebalanceReport & { plan: { memory: { before: Record<string, number>; after: Record<string, number> } } }>('rebalance', { cluster: name, weighBy: 'memory', thresholdPercent: 10, dryRun: true });
    expect(dry.plan.moves.length).toBeGreaterThan(0);
    expect(dry.plan.moves.every((m) => m.from.address === first!.master.address)).toBe(true);
    expect(spread(Object.values(dry.plan.memory.after))).toBeLessThan(spread(Object.values(dry.plan.memory.before)));

    const moved = await runWorkflow<RebalanceReport>('rebalance', { cluster: name, weighBy: 'memory', thresholdPercent: 10 });
    expect(moved.slotsMoved).toBe(dry.plan.slotsToMove);
    const after = await health({ diagnose: false });
    expect(after.healthy).toBe(true);
    expect(await totalKeys(after)).toBe(keys);
    expect(spread(await datasets(after))).toBeLessThan(spread(was));
  });

  test('a drain that would fill the masters taking its slots past 90% of maxmemory is refused, nothing moved', async () => {
    const start = await health({ diagnose: false });
    const [first] = start.shards;
    // Each master may grow by 1 MiB: less than the drained master's data.
    await setMaxmemory(start, (used) => Math.ceil((used + MiB) / 0.95));
    try {
      const err = await runWorkflowFailure('rebalance', { cluster: name, drain: [first!.master.address], thresholdPercent: 0 });
      expect(err.type).toBe('PreflightFailed');
      expect(err.message).toMatch(/lack memory headroom: 127\.0\.0\.1:\d+ uses [\d.]+ MiB and would take about [\d.]+ MiB more, past 90% of its maxmemory/);
      expect(err.message).toContain('nothing was moved');
      const now = await health({ diagnose: false });
      expect(now.shards.map((s) => [s.master.id, s.slots])).toEqual(start.shards.map((s) => [s.master.id, s.slots]));
    } finally {
      await setMaxmemory(start, () => 0);
    }
  });
});

describe('self-healing', () => {
  test('the health Schedule with heal finds a shard whose master and replica were killed, starts repairCluster, and every key is back', async () => {
    const start = await health({ diagnose: false });
    const keys = await totalKeys(start);
    const shard = start.shards[2]!;
    const client = await testClient();
    await upsertHealthSchedule(client, { cluster: name, every: '2s', heal: true });
    try {
      await Promise.all([shard.master.address, shard.replicas[0]!.address].map((a) => cluster.runtime.kill(a)));
      const repair = client.workflow.getHandle(healWorkflowId(name));
      const status = await eventually(
        'the self-healing repair to be started and to end',
        () => repair.describe().then((d) => d.status.name, () => 'not started'),
        (s) => s !== 'not started' && s !== 'RUNNING',
        { timeoutMs: 120_000, everyMs: 500 },
      );
      expect(status).toBe('COMPLETED');
      const result = (await repair.result()) as { repaired: boolean; nodesRestarted: string[] };
      expect(result.repaired).toBe(true);
      expect(result.nodesRestarted.sort()).toEqual([shard.master.address, shard.replicas[0]!.address].sort());
      const after = await cluster.healthUntil((r) => r.healthy, 60_000);
      expect(await totalKeys(after)).toBe(keys);
    } finally {
      await deleteBackupSchedule(client, name, 'health');
    }
  });

  test('two checks that find the cluster down at once start one repair: the other says it runs already', async () => {
    const start = await health({ diagnose: false });
    const keys = await totalKeys(start);
    const shard = start.shards[1]!;
    await Promise.all([shard.master.address, shard.replicas[0]!.address].map((a) => cluster.runtime.kill(a)));
    await eventually('the cluster to be down', () => health({ diagnose: false }), (r) => r.findings.some((f) => f.code === 'CLUSTER_STATE_FAIL'), { timeoutMs: 30_000, everyMs: 500 });
    const checks = await Promise.all([health({ diagnose: false, heal: true }), health({ diagnose: false, heal: true })]);
    const started = checks.filter((c) => c.healing?.repairWorkflowId);
    expect(started.map((c) => c.healing!.repairWorkflowId)).toEqual([healWorkflowId(name)]);
    expect(checks.find((c) => !c.healing?.repairWorkflowId)!.healing!.skipped).toMatch(/already running|holds the cluster/);
    const result = (await (await testClient()).workflow.getHandle(healWorkflowId(name)).result()) as { repaired: boolean };
    expect(result.repaired).toBe(true);
    const after = await cluster.healthUntil((r) => r.healthy, 60_000);
    expect(await totalKeys(after)).toBe(keys);
    // Healthy again: a check with heal starts nothing.
    expect((await health({ diagnose: false, heal: true })).healing).toEqual({ triggers: [] });
  });
});
