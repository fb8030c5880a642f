/**
 * bench/scale: the same operations on clusters of 6, 30 and 90 nodes (3, 15 and 45 masters, one
 * replica each, redis-server processes on this machine), side by side in one run, with the same
 * total data (KEYS keys of 100 bytes) at every size: clusterHealth, backupCluster, restoreCluster
 * (same shape, onto the same nodes), upgradeRedis 7.0.15 -> 8.0.2 with every shard in parallel,
 * and a rebalance onto one more master (addNode). Prints each operation's time and the length of
 * its history (events, the runs of a continued-as-new workflow and its children included), and
 * the targets: clusterHealth under 1 s at 90 nodes; backup and restore at 90 nodes within 1.5x
 * of 6 nodes; upgradeRedis with every shard at once no slower (per shard: its wall time) than at 6.
 *
 *   npx tsx bench/scale.ts [keys=200000] [sizes=6,30,90] [runs=1]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import Redis from 'ioredis';
import { keyHashSlot, parseClusterNodes } from '../src/cluster';
import { parseInventory } from '../src/config';
import { ProcessRuntime } from '../src/runtime';
import { startDevServer } from '../src/client/devServer';
import { dataConverterFromEnv } from '../src/codec';
import type { BackupReport } from '../src/workflows/backupCluster';
import { activityTimeline, formatTimeline } from './observe';

const ROOT = resolve(__dirname, '..');
const STATE = join(ROOT, '.state', 'bench-scale');
const KEYS = Number(process.argv[2] ?? 200_000);
const SIZES = (process.argv[3] ?? '6,30,90').split(',').map(Number);
const RUNS = Number(process.argv[4] ?? 1);
const FROM = '7.0.15';
const TO = '8.0.2';
const REDIS_8 = join(process.env.REDISFORGE_CACHE ?? join(homedir(), '.cache', 'redisforge'), 'redis-8.0.2', 'redis-server');
// Bus ports (+10000) stay below the ephemeral range (32768).
const BASE_PORT = 20101;
const password = randomBytes(12).toString('hex');
const VALUE = randomBytes(75).toString('base64');

const nodesOf = (size: number) => Array.from({ length: size }, (_, i) => `127.0.0.1:${BASE_PORT + i}`);
const EXTRA = (size: number) => `127.0.0.1:${BASE_PORT + size}`;

async function loadKeys(seed: string): Promise<void> {
  const [host, port] = seed.split(':');
  const r = new Redis({ host, port: Number(port), password });
  const view = parseClusterNodes(String(await r.call('CLUSTER', 'NODES')));
  r.disconnect();
  const owner = new Array<string>(16384);
  const masters = view.filter((n) => n.role === 'master' && n.slots.length > 0);
  for (const m of masters) for (const s of m.slots) for (let x = s.start; x <= s.end; x++) owner[x] = m.address;
  const conns = new Map(masters.map((m) => [m.address, new Redis({ host: '127.0.0.1', port: m.port, password })] as const));
  for (let i = 0; i < KEYS; i += 20_000) {
    const pipes = new Map([...conns].map(([a, c]) => [a, c.pipeline()] as const));
    for (let k = i; k < Math.min(i + 20_000, KEYS); k++) pipes.get(owner[keyHashSlot(`key:${k}`)]!)!.set(`key:${k}`, VALUE);
    await Promise.all([...pipes.values()].map((p) => p.exec()));
  }
  for (const c of conns.values()) c.disconnect();
}

/** Events of a run, its continued-as-new runs and its children, and the largest single history among them. */
async function historyLength(client: Client, handle: WorkflowHandle): Promise<{ events: number; largest: number; runs: number }> {
  let events = 0;
  let largest = 0;
  let runs = 0;
  const seen = new Set<string>();
  const visit = async (workflowId: string, runId?: string): Promise<void> => {
    const key = `${workflowId}/${runId ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const list = history.events ?? [];
    events += list.length;
    largest = Math.max(largest, list.length);
    runs++;
    for (const e of list) {
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId) await visit(child.workflowId, child.runId ?? undefined);
      const next = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (next) await visit(workflowId, next);
    }
  };
  await visit(handle.workflowId, (await handle.describe()).runId);
  return { events, largest, runs };
}

interface Row {
  op: string;
  size: number;
  ms: number[];
  events: number;
  largest: number;
}

async function main(): Promise<void> {
  rmSync(STATE, { recursive: true, force: true });
  mkdirSync(STATE, { recursive: true });
  process.env.REDIS_REQUIREPASS = password;
  const largest = Math.max(...SIZES);
  const clusters: Record<string, unknown> = {};
  for (const size of SIZES) {
    clusters[`scale${size}`] = {
      nodes: nodesOf(size), masters: size / 2, replicasPerMaster: 1, runtime: 'local', backupStore: 'local', commandTimeoutMs: 30_000,
      spareNodes: [EXTRA(size)],
      // 45 shards restarting at once on two cores: a node busy loading may take more than the default 5 s to answer.
    };
  }
  const inventoryData = {
    clusters,
    runtimes: { local: { type: 'process', baseDir: join(STATE, 'nodes'), versions: { [FROM]: 'redis-server', [TO]: REDIS_8 }, defaultVersion: FROM, nodeTimeoutMs: 5000 } },
    stores: { local: { type: 'fs', path: join(STATE, 'store') } },
  };
  const inventory = parseInventory(inventoryData);
  writeFileSync(join(STATE, 'inventory.json'), JSON.stringify(inventoryData));
  const runtime = new ProcessRuntime(inventory.runtimes.local as never, { password });
  const server = await startDevServer({ port: 27433, headless: true, logFile: join(STATE, 'temporal.log') });
  const worker = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'worker.ts')], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TEMPORAL_ADDRESS: server.address, REDISFORGE_INVENTORY: join(STATE, 'inventory.json'), REDIS_REQUIREPASS: password, REDISFORGE_STATE_DIR: join(STATE, 'worker') },
  });
  await new Promise<void>((ok) => worker.stdout!.on('data', (d: Buffer) => d.toString().includes('redisforge worker:') && ok()));
  const client = new Client({ connection: await Connection.connect({ address: server.address }), dataConverter: dataConverterFromEnv() });
  let seq = 0;
  const timed = async <T>(type: string, input: object): Promise<{ result: T; ms: number; handle: WorkflowHandle }> => {
    const t = Date.now();
    const handle = await client.workflow.start(type, { taskQueue: 'redisforge-ops', workflowId: `scale-${type}-${Date.now()}-${++seq}`, args: [input] });
    const result = (await handle.result()) as T;
    return { result, ms: Date.now() - t, handle };
  };
  const rows: Row[] = [];
  const record = async (op: string, size: number, ms: number, handle: WorkflowHandle) => {
    const h = await historyLength(client, handle);
    const row = rows.find((r) => r.op === op && r.size === size);
    if (row) row.ms.push(ms);
    else rows.push({ op, size, ms: [ms], events: h.events, largest: h.largest });
    console.log(`[${size} nodes] ${op}: ${(ms / 1000).toFixed(2)} s, ${h.events} events in ${h.runs} run(s), largest ${h.largest}`);
    // Where the time went: each activity type's span from the workflow's start (seconds), and its longest wait in the queue.
    const spans = await activityTimeline(client, handle.workflowId);
    console.log(`    ${formatTimeline(spans)}; longest queue wait ${Math.max(0, ...spans.map((x) => x.maxQueueMs))} ms`);
  };
  const allNodes = [...nodesOf(largest), EXTRA(largest)];
  const killAll = () => Promise.all(allNodes.map((n) => runtime.kill(n)));
  try {
    for (let run = 0; run < RUNS; run++) {
      for (const size of SIZES) {
        const cluster = `scale${size}`;
        await killAll();
        rmSync(join(STATE, 'nodes'), { recursive: true, force: true });
        await Promise.all(nodesOf(size).map((n) => runtime.start(n)));
        await timed('createCluster', { cluster, timeoutSeconds: 300 });
        await loadKeys(nodesOf(size)[0]!);
        console.log(`[${size} nodes] formed, ${KEYS} keys loaded`);

        const health = await timed('clusterHealth', { cluster });
        await record('clusterHealth', size, health.ms, health.handle);
        const backup = await timed<BackupReport>('backupCluster', { cluster });
        await record('backupCluster', size, backup.ms, backup.handle);
        const restore = await timed('restoreCluster', { cluster, backupId: backup.result.backupId, approve: true, timeoutSeconds: 600 });
        await record('restoreCluster', size, restore.ms, restore.handle);
        const upgrade = await timed('upgradeRedis', { cluster, version: TO, shardsInParallel: size / 2, failback: false, timeoutSeconds: 600 });
        await record(`upgradeRedis (${size / 2} shards in parallel)`, size, upgrade.ms, upgrade.handle);
        await runtime.provision(EXTRA(size), TO);
        const add = await timed('addNode', { cluster, address: EXTRA(size), role: 'master', rebalance: true });
        await record('addNode master + rebalance', size, add.ms, add.handle);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ops = [...new Set(rows.map((r) => r.op.replace(/ \(\d+ shards in parallel\)/, ' (all shards in parallel)')))];
    const cell = (op: string, size: number) => rows.find((r) => r.op.replace(/ \(\d+ shards in parallel\)/, ' (all shards in parallel)') === op && r.size === size);
    console.log(`\nscale: ${KEYS} keys of 100 bytes in total at every size; ${RUNS} run(s), median time (spread); history events (largest single history)`);
    console.log(`| operation | ${SIZES.map((s) => `${s} nodes`).join(' | ')} |`);
    console.log(`|---|${SIZES.map(() => '---').join('|')}|`);
    for (const op of ops) {
      console.log(`| ${op} | ${SIZES.map((s) => {
        const c = cell(op, s);
        return c ? `${(median(c.ms) / 1000).toFixed(2)} s (${((Math.max(...c.ms) - Math.min(...c.ms)) / 1000).toFixed(2)}), ${c.events} ev (${c.largest})` : '-';
      }).join(' | ')} |`);
    }
    const big = Math.max(...SIZES);
    const small = Math.min(...SIZES);
    const at = (op: string, s: number) => median(cell(op, s)!.ms);
    console.log(`\nclusterHealth at ${big} nodes: ${(at('clusterHealth', big) / 1000).toFixed(2)} s (target < 1 s)`);
    console.log(`backupCluster ${big} vs ${small} nodes: ${(at('backupCluster', big) / at('backupCluster', small)).toFixed(2)}x (target <= 1.5x)`);
    console.log(`restoreCluster ${big} vs ${small} nodes: ${(at('restoreCluster', big) / at('restoreCluster', small)).toFixed(2)}x (target <= 1.5x)`);
    const up = 'upgradeRedis (all shards in parallel)';
    // Every shard at once: the wall time is what one shard took.
    console.log(`upgradeRedis, all shards at once: ${(at(up, big) / 1000).toFixed(2)} s for ${big / 2} shards vs ${(at(up, small) / 1000).toFixed(2)} s for ${small / 2}: ${(at(up, big) / at(up, small)).toFixed(2)}x per shard (target <= 1x)`);
  } finally {
    worker.kill('SIGTERM');
    await killAll();
    await server.stop();
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
