/**
 * bench/upgrade: upgradeRedis 7.0.15 -> 8.0.2 on a 3x1 cluster holding KEYS keys of 100-byte
 * values (appendonly yes), worker as a child process, Temporal overhead included, against its
 * floor measured in the same run: the same steps by hand (bench/upgradeNodes.ts). Two identical
 * clusters, A and B: run 1 the floor on A and upgradeRedis on B, run 2 (both rebuilt) the other
 * way round and in the other order; the best of the two counts per side. Run 3 (both rebuilt):
 * upgradeRedis with shardsInParallel 3 on A, the floor with shards in parallel on B.
 * On the process runtime: redis-server processes, no containers (no image registry here).
 * Target: upgradeRedis at most 1.25x the floor with shardsInParallel 1.
 *
 *   npx tsx bench/upgrade.ts [keys=1000000]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { dataConverterFromEnv } from '../src/codec';
import { bundleWorkflowCode } from '@temporalio/worker';
import { parseInventory } from '../src/config';
import { ProcessRuntime } from '../src/runtime';
import { startDevServer } from '../src/client/devServer';
import type { UpgradeRedisReport } from '../src/workflows/upgradeRedis';
import { activityTimeline, formatTimeline, watchRss, type RssPeak } from './observe';
import { describeNodes, loadKeys, settle, shardsOf, upgradeByHand, type FloorRun, type Shard } from './upgradeNodes';

const ROOT = resolve(__dirname, '..');
const STATE = join(ROOT, '.state', 'bench-upgrade');
const KEYS = Number(process.argv[2] ?? 1_000_000);
const FROM = '7.0.15';
const TO = '8.0.2';
const REDIS_8 = join(process.env.REDISFORGE_CACHE ?? join(homedir(), '.cache', 'redisforge'), 'redis-8.0.2', 'redis-server');
const CLUSTERS = {
  A: Array.from({ length: 6 }, (_, i) => `127.0.0.1:${26101 + i}`),
  B: Array.from({ length: 6 }, (_, i) => `127.0.0.1:${26111 + i}`),
};
type Name = keyof typeof CLUSTERS;
const ALL = [...CLUSTERS.A, ...CLUSTERS.B];
const password = randomBytes(12).toString('hex');
// Random text, a different 100 bytes per key, so the AOF is as large as real data makes it.
const VALUES = randomBytes(3 << 20).toString('base64');
const VALUE_COUNT = Math.floor(VALUES.length / 100);
const valueOf = (k: number) => VALUES.slice((k % VALUE_COUNT) * 100, (k % VALUE_COUNT) * 100 + 100);
const MiB = (kb: number) => Math.round(kb / 1024);
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

type Ours = { ms: number; report: UpgradeRedisReport; rss: RssPeak; workflowId: string; totals: ActivityTotals };
type ActivityTotals = { runMs: number; byType: Map<string, { count: number; ms: number }> };

/** The run's span (started -> closed) and, per activity type, the summed time from scheduled to closed. */
async function activityTotals(client: Client, workflowId: string): Promise<ActivityTotals> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const ms = (e: (typeof events)[number]) => Number(e.eventTime?.seconds?.toString() ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
  const scheduled = new Map<string, { activity: string; at: number }>();
  const byType = new Map<string, { count: number; ms: number }>();
  for (const e of events) {
    const attrs = e.activityTaskScheduledEventAttributes;
    if (attrs) scheduled.set(e.eventId?.toString() ?? '', { activity: attrs.activityType?.name ?? '?', at: ms(e) });
    const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    const from = closed && scheduled.get(closed.scheduledEventId?.toString() ?? '');
    if (from) {
      const row = byType.get(from.activity) ?? { count: 0, ms: 0 };
      byType.set(from.activity, { count: row.count + 1, ms: row.ms + ms(e) - from.at });
    }
  }
  return { runMs: events.length ? ms(events.at(-1)!) - ms(events[0]!) : NaN, byType };
}

async function main(): Promise<void> {
  if (!Number.isInteger(KEYS) || KEYS < 1) throw new Error(`keys: expected a positive integer, got ${process.argv[2]}`);
  const clusterOf = (nodes: string[]) => ({ nodes, runtime: 'local', commandTimeoutMs: 60_000 });
  const inventoryData = {
    clusters: { A: clusterOf(CLUSTERS.A), B: clusterOf(CLUSTERS.B) },
    runtimes: { local: { type: 'process', baseDir: join(STATE, 'nodes'), versions: { [FROM]: 'redis-server', [TO]: REDIS_8 }, defaultVersion: FROM, nodeTimeoutMs: 5000 } },
  };
  const runtime = new ProcessRuntime(parseInventory(inventoryData).runtimes.local as never, { password });
  // A bus port (port + 10000, here 36101-36116) lies in Linux's ephemeral range: when a client socket holds it, the node cannot start.
  const start = (node: string, tries = 3): Promise<void> =>
    runtime.start(node).catch((err: unknown) => (tries > 1 ? sleep(500).then(() => start(node, tries - 1)) : Promise.reject(err)));
  // Nodes a crashed earlier run left behind hold the ports.
  await Promise.all(ALL.map((n) => runtime.kill(n)));
  rmSync(STATE, { recursive: true, force: true });
  mkdirSync(STATE, { recursive: true });
  writeFileSync(join(STATE, 'inventory.json'), JSON.stringify(inventoryData));
  // Bundled here, so the worker's RSS is what the upgrade costs, not webpack's.
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve(join(ROOT, 'src', 'workflows')), logger: quietLogger });
  writeFileSync(join(STATE, 'workflow-bundle.js'), code);

  // Takes 26233, 26243 (HTTP) and 26253 (metrics); no Web UI.
  const server = await startDevServer({ port: 26233, headless: true, logFile: join(STATE, 'temporal.log') });
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
    const workflow = async <T>(type: string, input: object) => {
      const workflowId = `bench-${type}-${Date.now()}`;
      const t0 = Date.now();
      const result = await client.workflow.execute<(i: object) => Promise<T>>(type, { taskQueue: 'redisforge-ops', workflowId, args: [input] });
      return { result, ms: Date.now() - t0, workflowId };
    };

    /** A fresh 3x1 cluster on FROM: nodes killed, data removed, started, formed, loaded. */
    const shards = {} as Record<Name, Shard[]>;
    const build = async (name: Name) => {
      // A replica writes its first AOF after a full sync in a forked child, which outlives a
      // SIGKILL of its parent and would write into the directory being removed.
      if (shards[name]) await settle(shards[name], password);
      await Promise.all(CLUSTERS[name].map((n) => runtime.kill(n)));
      await Promise.all(CLUSTERS[name].map((n) => rm(runtime.nodeDir(n), { recursive: true, force: true, maxRetries: 5 })));
      await Promise.all(CLUSTERS[name].map((n) => start(n)));
      await workflow('createCluster', { cluster: name });
      const t = Date.now();
      await loadKeys(await shardsOf(CLUSTERS[name][0]!, password), KEYS, valueOf, password);
      shards[name] = await shardsOf(CLUSTERS[name][0]!, password);
      await settle(shards[name], password);
      console.log(`cluster ${name}: ${KEYS} keys loaded in ${s(Date.now() - t)} (${shards[name].map((x) => x.keys).join(' + ')})`);
    };
    const rebuild = async () => {
      await build('A');
      await build('B');
    };
    /** Both clusters quiet, so neither side pays for the other's background work. */
    const quiet = () => Promise.all((['A', 'B'] as const).map((n) => settle(shards[n], password)));
    const check = async (name: Name, side: string) => {
      const nodes = await describeNodes(CLUSTERS[name], password);
      const wrong = nodes.filter((n) => n.version !== TO || n.keys !== shards[name].find((x) => x.master === n.address || x.replica === n.address)?.keys);
      if (wrong.length > 0) throw new Error(`${side} on cluster ${name} left: ${wrong.map((n) => `${n.address} ${n.role} redis ${n.version} ${n.keys} keys`).join('; ')}`);
    };
    const floor = async (name: Name, shardsInParallel: number) => {
      await quiet();
      const run = await upgradeByHand(runtime, shards[name], TO, password, shardsInParallel);
      await check(name, 'the floor');
      console.log(`  floor on ${name}${shardsInParallel > 1 ? ' (shards in parallel)' : ''}: ${s(run.ms)}`);
      return run;
    };
    const ours = async (name: Name, shardsInParallel: number): Promise<Ours> => {
      await quiet();
      const rss = watchRss(worker.pid!);
      const { result: report, ms, workflowId } = await workflow<UpgradeRedisReport>('upgradeRedis', { cluster: name, version: TO, shardsInParallel });
      const peak = rss();
      if (report.aborted || report.healthPauses.length > 0 || report.findingsAfter.length > 0) throw new Error(`upgradeRedis on ${name}: ${JSON.stringify({ aborted: report.aborted, healthPauses: report.healthPauses, findingsAfter: report.findingsAfter })}`);
      await check(name, 'upgradeRedis');
      console.log(`  upgradeRedis on ${name} (shardsInParallel ${shardsInParallel}): ${s(ms)}`);
      return { ms, report, rss: peak, workflowId, totals: await activityTotals(client, workflowId) };
    };

    const startKb = watchRss(worker.pid!)().sampledKb;
    const floors: FloorRun[] = [];
    const ourRuns: Ours[] = [];
    await rebuild();
    console.log('run 1: floor on A, then upgradeRedis on B');
    floors.push(await floor('A', 1));
    ourRuns.push(await ours('B', 1));
    await rebuild();
    console.log('run 2: upgradeRedis on A, then floor on B');
    ourRuns.push(await ours('A', 1));
    floors.push(await floor('B', 1));
    await rebuild();
    console.log('run 3: shards in parallel, upgradeRedis on A, then floor on B');
    const parallel = await ours('A', 3);
    const floorParallel = await floor('B', 3);

    const row = (label: string, ms: number[]) => console.log(`  ${label.padEnd(62)} ${ms.map(s).join('   ')}${ms.length > 1 ? `   best ${s(Math.min(...ms))}` : ''}`);
    const best = (ms: number[]) => Math.min(...ms);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const bestOurs = ourRuns.reduce((a, b) => (b.ms < a.ms ? b : a));
    const bestFloor = floors.reduce((a, b) => (b.ms < a.ms ? b : a));
    console.log(`\n${KEYS} keys of 100 bytes, 3x1 cluster, appendonly yes, ${FROM} -> ${TO}`);
    console.log('process runtime (redis-server processes, replace = SIGTERM, new binary, start on the same data dir): no container registry here, so no image pull or container start');
    console.log('shardsInParallel 1 (run 1, run 2, best)');
    row('floor: by hand, shard by shard (replace, sync, failover, replace, sync)', floors.map((f) => f.ms));
    row('  of which replace (stop + start until the port answers), 6 nodes', floors.map((f) => f.replaceMs));
    row('  of which AOF load + sync until linked and synced, 6 nodes', floors.map((f) => f.syncMs));
    row('  of which CLUSTER FAILOVER until ROLE master, 3 failovers', floors.map((f) => f.failoverMs));
    row('ours: upgradeRedis, client wall time', ourRuns.map((o) => o.ms));
    row('ours: workflow run, started -> closed (history)', ourRuns.map((o) => o.totals.runMs));
    row('  report: sum of replaced[].tookMs', ourRuns.map((o) => sum(o.report.replaced.map((r) => r.tookMs))));
    row('  report: sum of failovers[].tookMs', ourRuns.map((o) => sum(o.report.failovers.map((f) => f.tookMs))));
    console.log(`  ratio ours/floor (target <= 1.25x): ${(bestOurs.ms / bestFloor.ms).toFixed(2)}x by client wall time, ${(best(ourRuns.map((o) => o.totals.runMs)) / bestFloor.ms).toFixed(2)}x by the workflow run's own span`);
    const retries = sum(floors.map((f) => f.startRetries)) + floorParallel.startRetries;
    const attempts = [...floors, floorParallel].map((f) => f.failoverAttempts);
    console.log(`  floor: CLUSTER FAILOVER sent ${attempts.join(', ')} times for 3 shards; starts retried (bus port taken): ${retries}; ours: failover attempts ${[...ourRuns, parallel].map((o) => sum(o.report.failovers.map((f) => f.attempts))).join(', ')}`);

    console.log('where the best run of ours spends its time against the best floor (activities: summed scheduled -> closed)');
    const type = (o: Ours, ...names: string[]) => sum(names.map((n) => o.totals.byType.get(n)?.ms ?? 0));
    const phase = (label: string, floorMs: number, oursMs: number) => console.log(`  ${label.padEnd(62)} floor ${s(floorMs).padStart(8)}   ours ${s(oursMs).padStart(8)}   +${s(oursMs - floorMs)}`);
    phase('replace (floor) / replaceNodeVersion x6', bestFloor.replaceMs, type(bestOurs, 'replaceNodeVersion'));
    phase('sync (floor) / awaitReplicaInSync x6', bestFloor.syncMs, type(bestOurs, 'awaitReplicaInSync'));
    phase('failover (floor) / failoverTo + awaitRolesSwapped x3', bestFloor.failoverMs, type(bestOurs, 'failoverTo', 'awaitRolesSwapped'));
    const steps = new Set(['replaceNodeVersion', 'awaitReplicaInSync', 'failoverTo', 'awaitRolesSwapped']);
    const others = [...bestOurs.totals.byType].filter(([n]) => !steps.has(n));
    phase('other activities (checks, plan, lock, health), listed below', 0, sum(others.map(([, r]) => r.ms)));
    for (const [n, r] of others) console.log(`    ${n}${r.count > 1 ? ` x${r.count}` : ''}: ${s(r.ms)}`);
    phase('between activities (workflow tasks, scheduling)', 0, bestOurs.totals.runMs - sum([...bestOurs.totals.byType.values()].map((r) => r.ms)));
    phase('client: start and result, outside the run', 0, bestOurs.ms - bestOurs.totals.runMs);
    phase('total', bestFloor.ms, bestOurs.ms);
    console.log(`  best run's activities (s from workflow start): ${formatTimeline(await activityTimeline(client, bestOurs.workflowId))}`);

    console.log('shardsInParallel 3 (run 3, fresh clusters)');
    row('ours: upgradeRedis shardsInParallel 3, client wall time', [parallel.ms]);
    row('floor: by hand, the 3 shards at once', [floorParallel.ms]);
    console.log(`  parallel shards gain: ours ${(bestOurs.ms / parallel.ms).toFixed(2)}x faster than shardsInParallel 1 (best ${s(bestOurs.ms)} -> ${s(parallel.ms)}), the floor ${(bestFloor.ms / floorParallel.ms).toFixed(2)}x; ours/floor in parallel ${(parallel.ms / floorParallel.ms).toFixed(2)}x`);
    console.log(`  activities (s from workflow start): ${formatTimeline(await activityTimeline(client, parallel.workflowId))}`);
    console.log(`worker RSS: ${MiB(startKb)} MiB once ready; peak during upgradeRedis, sampled every 100 ms: ${[...ourRuns, parallel].map((o) => `${MiB(o.rss.sampledKb)} MiB (VmHWM ${MiB(o.rss.hwmKb)} MiB)`).join(', ')}`);
    // No AOF rewrite child left to outlive the SIGKILL below.
    await quiet();
    succeeded = true;
  } finally {
    await new Promise<void>((done) => {
      if (worker.exitCode !== null || worker.signalCode !== null) return done();
      const timer = setTimeout(() => worker.kill('SIGKILL'), 15_000);
      worker.once('exit', () => (clearTimeout(timer), done()));
      worker.kill('SIGTERM');
    });
    await Promise.all(ALL.map((n) => runtime.kill(n)));
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
