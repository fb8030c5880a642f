/**
 * bench/backup: KEYS keys of 100-byte values on a 3x1 cluster (appendonly yes). backupCluster
 * (worker as a child process, Temporal overhead included) against its floor measured in the
 * same run: BGREWRITEAOF on each shard's replica, then `tar cf` (czf with gzip) of its
 * appendonlydir into the same store directory, shards in parallel. restoreCluster onto six
 * other nodes against extract-and-load: stop, clean, `tar xf` each shard into its new master,
 * start, until every master has loaded. Each side runs twice, alternating; the best counts.
 * Prints the ratios, the worker's peak RSS during each operation, where the best runs spent
 * their time (activities, and when the restored nodes loaded, linked and reported cluster ok).
 * Targets: at most 1.25x the floor (backup and restore); worker peak RSS under 250 MB at any dataset size.
 *
 *   npx tsx bench/backup.ts [keys=1000000] [--compression none|gzip]
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { dataConverterFromEnv } from '../src/codec';
import { bundleWorkflowCode } from '@temporalio/worker';
import Redis from 'ioredis';
import { keyHashSlot, parseClusterNodes, parseInfo, type ClusterNode } from '../src/cluster';
import { parseInventory } from '../src/config';
import { ProcessRuntime } from '../src/runtime';
import { startDevServer } from '../src/client/devServer';
import type { BackupReport } from '../src/workflows/backupCluster';
import type { RestoreReport } from '../src/workflows/restoreCluster';
import { activityTimeline, formatTimeline, watchRestart, watchRss, type RestartEvents, type RssPeak } from './observe';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');
const STATE = join(ROOT, '.state', 'bench-backup');
const STORE = join(STATE, 'store');
const FLOOR = join(STORE, 'floor');
const args = process.argv.slice(2);
const compressionAt = args.indexOf('--compression');
const COMPRESSION = compressionAt >= 0 ? args[compressionAt + 1] : 'none';
const KEYS = Number(args.find((a, i) => !a.startsWith('--') && (compressionAt < 0 || i !== compressionAt + 1)) ?? 1_000_000);
const SOURCE = Array.from({ length: 6 }, (_, i) => `127.0.0.1:${27001 + i}`);
const TARGET = Array.from({ length: 6 }, (_, i) => `127.0.0.1:${27011 + i}`);
const RUNS = 2;
const password = randomBytes(12).toString('hex');
// Random text, a different 100 bytes per key: 'v' x 100 would shrink to almost nothing in the
// RDB preamble (LZF) and under gzip, and the AOF base would not be the issue's 29 MB per 250k keys.
const VALUES = randomBytes(3 << 20).toString('base64');
const VALUE_COUNT = Math.floor(VALUES.length / 100);
const valueOf = (k: number) => VALUES.slice((k % VALUE_COUNT) * 100, (k % VALUE_COUNT) * 100 + 100);
const MiB = (kb: number) => Math.round(kb / 1024);

/** A shard numbered as backupCluster numbers them (by first slot), with its replica. */
type Shard = { index: number; master: string; replica: string; keys: number };

async function withNode<T>(address: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const [host, port] = address.split(':');
  // No ready check: ioredis would wait out a node's loading in steps of up to a second.
  const redis = new Redis({ host, port: Number(port), password, enableReadyCheck: false, maxRetriesPerRequest: 3 });
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

const infoOf = async (r: Redis, section: string) => parseInfo(await r.info(section))[section] ?? {};

/** The source's shards and their key counts, once the seed sees a replica for every master. */
async function shardsOf(seed: string): Promise<Shard[]> {
  for (let tries = 0; ; tries++) {
    const view = await withNode(seed, async (r) => parseClusterNodes((await r.cluster('NODES')) as string));
    const masters = view.filter((n) => n.role === 'master' && n.slots.length > 0).sort((a, b) => a.slots[0]!.start - b.slots[0]!.start);
    const replicaOf = (m: ClusterNode) => view.find((n) => n.masterId === m.id)?.address;
    if (masters.length === 3 && masters.every(replicaOf)) return Promise.all(masters.map(async (m, index) => ({ index, master: m.address, replica: replicaOf(m)!, keys: await withNode(m.address, (r) => r.dbsize()) })));
    if (tries === 100) throw new Error(`${seed} does not see 3 masters with a replica each:\n${view.map((n) => `${n.address} ${n.role} ${n.masterId ?? ''}`).join('\n')}`);
    await sleep(200);
  }
}

async function loadKeys(shards: Shard[]): Promise<void> {
  const view = await withNode(shards[0]!.master, async (r) => parseClusterNodes((await r.cluster('NODES')) as string));
  const owner = new Array<string>(16384);
  for (const m of view) for (const range of m.role === 'master' ? m.slots : []) for (let s = range.start; s <= range.end; s++) owner[s] = m.address;
  const conns = new Map(shards.map((s) => [s.master, new Redis({ host: '127.0.0.1', port: Number(s.master.split(':')[1]), password })] as const));
  for (let i = 0; i < KEYS; i += 20_000) {
    const pipes = new Map([...conns].map(([a, r]) => [a, r.pipeline()] as const));
    for (let k = i; k < Math.min(i + 20_000, KEYS); k++) pipes.get(owner[keyHashSlot(`key:${k}`)]!)!.set(`key:${k}`, valueOf(k));
    await Promise.all([...pipes.values()].map((p) => p.exec()));
  }
  for (const r of conns.values()) r.disconnect();
}

/**
 * Both sides start alike: no AOF rewrite or save running, every replica linked and, when
 * `keys` names it, holding that many keys. A node writing its first AOF (a replica just after
 * a full sync) also refuses SIGTERM ("Writing initial AOF, can't exit").
 */
async function settle(nodes: string[], keys: Record<string, number> = {}): Promise<void> {
  for (const node of nodes) {
    await withNode(node, async (r) => {
      for (;;) {
        const [p, rep] = [await infoOf(r, 'persistence'), await infoOf(r, 'replication')];
        const busy = p.aof_rewrite_in_progress !== '0' || p.aof_rewrite_scheduled !== '0' || p.rdb_bgsave_in_progress !== '0';
        const behind = rep.role === 'slave' && (rep.master_link_status !== 'up' || rep.master_sync_in_progress !== '0');
        if (!busy && !behind && (keys[node] === undefined || (await r.dbsize()) === keys[node])) return;
        await sleep(100);
      }
    });
  }
}

/** BGREWRITEAOF and wait until a rewrite started after it has finished well (polled every 20 ms). */
async function rewriteAof(r: Redis): Promise<void> {
  const before = Number((await infoOf(r, 'persistence')).aof_rewrites);
  await r.bgrewriteaof();
  for (;;) {
    const p = await infoOf(r, 'persistence');
    if (p.aof_rewrite_in_progress === '0' && p.aof_rewrite_scheduled === '0' && Number(p.aof_rewrites) > before) {
      if (p.aof_last_bgrewrite_status !== 'ok') throw new Error(`AOF rewrite failed: ${p.aof_last_bgrewrite_status}`);
      return;
    }
    await sleep(20);
  }
}

async function main(): Promise<void> {
  if (COMPRESSION !== 'none' && COMPRESSION !== 'gzip') throw new Error(`--compression: expected none or gzip, got ${COMPRESSION}`);
  if (!Number.isInteger(KEYS) || KEYS < 1) throw new Error(`keys: expected a positive integer, got ${args.join(' ')}`);
  const inventoryData = {
    clusters: {
      source: { nodes: SOURCE, runtime: 'local', backupStore: 'local', commandTimeoutMs: 60_000 },
      target: { nodes: TARGET, runtime: 'local', commandTimeoutMs: 60_000 },
    },
    runtimes: { local: { type: 'process', baseDir: join(STATE, 'nodes'), nodeTimeoutMs: 5000 } },
    stores: { local: { type: 'fs', path: STORE } },
  };
  const inventory = parseInventory(inventoryData);
  const runtime = new ProcessRuntime(inventory.runtimes.local as never, { password });
  // A bus port (port + 10000) lies in Linux's ephemeral range: when a client socket holds it, redis-server exits at once.
  const start = (node: string, tries = 3): Promise<void> =>
    runtime.start(node).catch((err: unknown) => (tries > 1 ? sleep(500).then(() => start(node, tries - 1)) : Promise.reject(err)));
  // Nodes a crashed earlier run left behind hold the ports.
  await Promise.all([...SOURCE, ...TARGET].map((n) => runtime.kill(n)));
  rmSync(STATE, { recursive: true, force: true });
  mkdirSync(FLOOR, { recursive: true });
  writeFileSync(join(STATE, 'inventory.json'), JSON.stringify(inventoryData));
  // Bundled here, so the worker's RSS is what backups and restores cost, not webpack's.
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve(join(ROOT, 'src', 'workflows')), logger: quietLogger });
  writeFileSync(join(STATE, 'workflow-bundle.js'), code);

  const server = await startDevServer({ port: 27233, uiPort: 28233, headless: true, logFile: join(STATE, 'temporal.log') });
  const workerLog = createWriteStream(join(STATE, 'worker.log'));
  const worker = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'worker.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      REDISFORGE_INVENTORY: join(STATE, 'inventory.json'),
      REDISFORGE_WORKFLOW_BUNDLE: join(STATE, 'workflow-bundle.js'),
      REDIS_REQUIREPASS: password,
    },
  });
  worker.stdout!.pipe(workerLog);
  worker.stderr!.pipe(workerLog);
  let succeeded = false;
  try {
    await new Promise<void>((ok, fail) => {
      worker.once('exit', (c) => fail(new Error(`the worker exited with ${c}; see ${join(STATE, 'worker.log')}`)));
      worker.stdout!.on('data', (d: Buffer) => d.toString().includes('redisforge worker:') && ok());
    });
    const client = new Client({ connection: await Connection.connect({ address: server.address }), dataConverter: dataConverterFromEnv() });
    const startKb = watchRss(worker.pid!)().sampledKb;
    const workflow = async <T>(type: string, input: object) => {
      const workflowId = `bench-${type}-${Date.now()}`;
      const t0 = Date.now();
      const result = await client.workflow.execute<(i: object) => Promise<T>>(type, { taskQueue: 'redisforge-ops', workflowId, args: [input] });
      return { result, ms: Date.now() - t0, workflowId };
    };

    await Promise.all([...SOURCE, ...TARGET].map((n) => start(n)));
    await workflow('createCluster', { cluster: 'source' });
    let t = Date.now();
    await loadKeys(await shardsOf(SOURCE[0]!));
    const shards = await shardsOf(SOURCE[0]!);
    const replicaKeys = Object.fromEntries(shards.map((s) => [s.replica, s.keys]));
    await settle(SOURCE, replicaKeys);
    console.log(`loaded ${KEYS} keys in ${((Date.now() - t) / 1000).toFixed(1)} s: ${shards.map((s) => `shard ${s.index} ${s.keys} keys`).join(', ')}`);
    const idleKb = watchRss(worker.pid!)().sampledKb;

    const floorBackups: { ms: number; rewriteMs: number; tarMs: number; bytes: number }[] = [];
    const ourBackups: { ms: number; report: BackupReport; rss: RssPeak; workflowId: string }[] = [];
    for (let i = 0; i < RUNS; i++) {
      await settle(SOURCE, replicaKeys);
      rmSync(FLOOR, { recursive: true, force: true });
      mkdirSync(FLOOR, { recursive: true });
      t = Date.now();
      const per = await Promise.all(
        shards.map(async (s) => {
          const started = Date.now();
          await withNode(s.replica, rewriteAof);
          const rewritten = Date.now();
          const file = join(FLOOR, `shard-${s.index}.tar${COMPRESSION === 'gzip' ? '.gz' : ''}`);
          await run('tar', [COMPRESSION === 'gzip' ? 'czf' : 'cf', file, '-C', runtime.nodeDir(s.replica), 'appendonlydir']);
          return { rewriteMs: rewritten - started, tarMs: Date.now() - rewritten, bytes: statSync(file).size };
        }),
      );
      floorBackups.push({ ms: Date.now() - t, rewriteMs: Math.max(...per.map((p) => p.rewriteMs)), tarMs: Math.max(...per.map((p) => p.tarMs)), bytes: per.reduce((n, p) => n + p.bytes, 0) });

      await settle(SOURCE, replicaKeys);
      const rss = watchRss(worker.pid!);
      const { result: report, ms, workflowId } = await workflow<BackupReport>('backupCluster', { cluster: 'source', compression: COMPRESSION });
      ourBackups.push({ ms, report, rss: rss(), workflowId });
      if (report.keys !== KEYS) throw new Error(`backupCluster reports ${report.keys} keys, ${KEYS} were loaded`);
    }

    const backupId = ourBackups.at(-1)!.report.backupId;
    const bestOf = <R extends { ms: number }>(runs: R[]) => runs.reduce((a, b) => (b.ms < a.ms ? b : a));
    const floorRestores: number[] = [];
    const ourRestores: { ms: number; report: RestoreReport; rss: RssPeak; workflowId: string; redis: RestartEvents }[] = [];
    for (let i = 0; i < RUNS; i++) {
      await settle(TARGET);
      // restoreCluster puts the masters on the first three target nodes (checked below).
      const redis = await watchRestart(TARGET.map((address, n) => ({ address, role: n < 3 ? 'master' : 'replica' })), password);
      const rss = watchRss(worker.pid!);
      const { result: report, ms, workflowId } = await workflow<RestoreReport>('restoreCluster', { cluster: 'target', from: 'source', backupId, approve: true });
      ourRestores.push({ ms, report, rss: rss(), workflowId, redis: await redis() });
      const masters = report.plan.filter((a) => a.shard !== undefined).map((a) => a.toAddress);
      if (masters.some((m) => TARGET.indexOf(m) >= 3)) throw new Error(`restoreCluster put masters on ${masters.join(', ')}`);
      if (report.keys.some((k) => k.restored !== k.expected)) throw new Error(`restoreCluster key counts: ${JSON.stringify(report.keys)}`);

      // The floor, onto the same nodes, which now form a cluster: keep each node's nodes.conf,
      // replace the AOF, restart, until every master has loaded and serves (cluster_state:ok).
      await settle(TARGET);
      t = Date.now();
      await Promise.all(TARGET.map((n) => runtime.stop(n)));
      await Promise.all(TARGET.map((n) => rm(join(runtime.nodeDir(n), 'appendonlydir'), { recursive: true, force: true })));
      await Promise.all(
        shards.map((s) => run('tar', [COMPRESSION === 'gzip' ? 'xzf' : 'xf', join(FLOOR, `shard-${s.index}.tar${COMPRESSION === 'gzip' ? '.gz' : ''}`), '-C', runtime.nodeDir(TARGET[s.index]!)])),
      );
      await Promise.all(TARGET.map((n) => start(n)));
      await Promise.all(
        shards.map((s) =>
          withNode(TARGET[s.index]!, async (r) => {
            while ((await infoOf(r, 'persistence')).loading !== '0' || (await r.dbsize()) !== s.keys) await sleep(20);
            while (!String(await r.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) await sleep(20);
          }),
        ),
      );
      floorRestores.push(Date.now() - t);
    }

    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const row = (label: string, ms: number[]) => console.log(`  ${label.padEnd(58)} ${ms.map(s).join('   ')}   best ${s(Math.min(...ms))}`);
    const best = (ms: number[]) => Math.min(...ms);
    console.log(`\n${KEYS} keys of 100 bytes, 3x1 cluster (redis-server processes, appendonly yes), compression ${COMPRESSION}, fs store ${STORE}`);
    console.log('backup (run 1, run 2, best)');
    row(`floor: BGREWRITEAOF + tar ${COMPRESSION === 'gzip' ? 'czf' : 'cf'} per replica, shards in parallel`, floorBackups.map((f) => f.ms));
    row('  of which rewrite (slowest shard)', floorBackups.map((f) => f.rewriteMs));
    row('  of which tar (slowest shard)', floorBackups.map((f) => f.tarMs));
    row('ours: backupCluster, client wall time', ourBackups.map((o) => o.ms));
    row('ours: report durationMs', ourBackups.map((o) => o.report.durationMs));
    row('  of which rewriteMs (slowest shard)', ourBackups.map((o) => Math.max(...o.report.shards.map((x) => x.rewriteMs))));
    row('  of which uploadMs (slowest shard)', ourBackups.map((o) => Math.max(...o.report.shards.map((x) => x.uploadMs))));
    console.log(`  stored: floor ${floorBackups.at(-1)!.bytes} bytes, ours ${ourBackups.at(-1)!.report.bytes} bytes (${(ourBackups.at(-1)!.report.bytes / 3 / 1e6).toFixed(1)} MB per shard)`);
    console.log(`  ratio ours/floor: ${(best(ourBackups.map((o) => o.ms)) / best(floorBackups.map((f) => f.ms))).toFixed(2)}x wall (target <= 1.25x), ${(best(ourBackups.map((o) => o.report.durationMs)) / best(floorBackups.map((f) => f.ms))).toFixed(2)}x by durationMs`);
    console.log(`  best run's activities (s from workflow start): ${formatTimeline(await activityTimeline(client, bestOf(ourBackups).workflowId))}`);
    console.log('restore onto six other nodes (run 1, run 2, best)');
    row(`floor: stop, new AOF (tar ${COMPRESSION === 'gzip' ? 'xzf' : 'xf'}) per master, start, until serving`, floorRestores);
    row('ours: restoreCluster, client wall time', ourRestores.map((o) => o.ms));
    row('ours: report durationMs', ourRestores.map((o) => o.report.durationMs));
    row('ours: until every master serves (report servingMs)', ourRestores.map((o) => o.report.servingMs ?? o.report.durationMs));
    console.log(`  ratio to serving (target <= 1.25x): ${(best(ourRestores.map((o) => o.report.servingMs ?? o.report.durationMs)) / best(floorRestores)).toFixed(2)}x (the floor's end point: masters loaded; replicas then sync from them)`);
    console.log('  the floor keeps the nodes.conf the nodes have and syncs no replica; restoreCluster also checks every object\'s sha256 first, writes every nodes.conf and then waits for the replicas');
    console.log(`  ratio ours/floor to the end (replicas in sync): ${(best(ourRestores.map((o) => o.ms)) / best(floorRestores)).toFixed(2)}x wall, ${(best(ourRestores.map((o) => o.report.durationMs)) / best(floorRestores)).toFixed(2)}x by durationMs`);
    console.log('  both include the 2 s Redis keeps a restarted master at cluster_state:fail after it has loaded (CLUSTER_WRITABLE_DELAY)');
    console.log(`  best run's activities (s from workflow start): ${formatTimeline(await activityTimeline(client, bestOf(ourRestores).workflowId))}`);
    const events = bestOf(ourRestores).redis;
    const at = (ms: number | undefined) => (ms === undefined ? 'never seen' : s(ms));
    console.log(`  best run, seen on the nodes (polled every 100 ms): masters loaded ${at(events.mastersLoaded)}, replicas linked ${at(events.replicasLinked)}, cluster_state:ok everywhere ${at(events.clusterOk)}; the workflow returned at ${s(bestOf(ourRestores).ms)}`);
    const rssLine = (label: string, runs: { rss: RssPeak }[]) =>
      console.log(`  ${label}: ${runs.map((o) => `${MiB(o.rss.sampledKb)} MiB (VmHWM ${MiB(o.rss.hwmKb)} MiB)`).join(', ')}`);
    console.log(`worker RSS (target < 250 MB): ${MiB(startKb)} MiB once ready, ${MiB(idleKb)} MiB idle before the runs; peak, sampled every 100 ms:`);
    rssLine('during backupCluster', ourBackups);
    rssLine('during restoreCluster', ourRestores);
    succeeded = true;
  } finally {
    await new Promise<void>((done) => {
      if (worker.exitCode !== null || worker.signalCode !== null) return done();
      const timer = setTimeout(() => worker.kill('SIGKILL'), 15_000);
      worker.once('exit', () => (clearTimeout(timer), done()));
      worker.kill('SIGTERM');
    });
    await Promise.all([...SOURCE, ...TARGET].map((n) => runtime.kill(n)));
    await server.stop();
    if (succeeded) rmSync(STATE, { recursive: true, force: true });
    else console.error(`logs kept in ${STATE}`);
  }
}

const quietLogger = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: (m: string) => console.warn(m), error: (m: string) => console.error(m) };

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
