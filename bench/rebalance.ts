/**
 * bench/rebalance: 1,000,000 keys of 100-byte values on 3 masters with 1 replica each
 * (cluster-node-timeout 5000, appendonly yes); add an empty 4th master, then rebalance. Our
 * rebalance workflow (worker as a child process, Temporal overhead included) against, on
 * identical fresh clusters in the same run: its floor (the same plan and protocol steps driven by
 * a bare loop in this process, see rebalanceFloor.ts) and `redis-cli --cluster rebalance
 * --cluster-use-empty-masters` with its default pipeline (10) and with --cluster-pipeline 100.
 * Every side is checked to lose no key. Prints keys/s, the ratios, the worker's peak RSS and where
 * our run spent its time (history rounds, CPU per process, commandstats).
 * Targets: >= 0.8x the floor; >= 2x redis-cli default, >= 1.3x its best pipeline.
 *
 *   npx tsx bench/rebalance.ts [keys=1000000] [--no-redis-cli] [--cpu-prof] [--loop-delay]
 *
 * --loop-delay samples the worker's event-loop delay (loopDelayProbe.ts) over our move.
 * --no-redis-cli leaves out the two redis-cli sides; --cpu-prof profiles the worker (node
 * --cpu-prof) over our move and this process over the activity alone, and prints their self
 * time by package and by function.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { dataConverterFromEnv } from '../src/codec';
import Redis from 'ioredis';
import { formatSlotRanges, keyHashSlot, parseClusterNodes, type RebalancePlan } from '../src/cluster';
import { parseInventory } from '../src/config';
import { ProcessRuntime } from '../src/runtime';
import { startDevServer } from '../src/client/devServer';
import type { RebalanceReport } from '../src/workflows/rebalance';
import { activityLoop, floorRebalance } from './rebalanceFloor';
import { cpuMs, formatCommandStats, loopDelayOver, migrationBreakdown, nodeStats, profiled, summarizeCpuProfile } from './rebalanceProfile';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');
const STATE = join(ROOT, '.state', 'bench-rebalance');
const PROFILES = join(STATE, 'cpu-prof');
const args = process.argv.slice(2);
const KEYS = Number(args.find((a) => !a.startsWith('--')) ?? 1_000_000);
const WITH_REDIS_CLI = !args.includes('--no-redis-cli');
const CPU_PROF = args.includes('--cpu-prof');
const LOOP_DELAY = join(STATE, 'loop-delay.jsonl');
const WITH_LOOP_DELAY = args.includes('--loop-delay');
const PORT = 26001;
const NODES = Array.from({ length: 6 }, (_, i) => `127.0.0.1:${PORT + i}`);
const NEW_MASTER = `127.0.0.1:${PORT + 6}`;
const password = randomBytes(12).toString('hex');
const VALUE = 'v'.repeat(100);

async function cli(...argv: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-a', password, '--no-auth-warning', ...argv], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

async function loadKeys(): Promise<void> {
  const view = parseClusterNodes(await cli('-p', String(PORT), 'CLUSTER', 'NODES'));
  const masters = view.filter((n) => n.role === 'master' && n.slots.length > 0);
  const owner = new Array<string>(16384);
  for (const m of masters) for (const r of m.slots) for (let s = r.start; s <= r.end; s++) owner[s] = m.address;
  const conns = new Map(masters.map((m) => [m.address, new Redis({ host: '127.0.0.1', port: m.port, password })] as const));
  for (let i = 0; i < KEYS; i += 20_000) {
    const pipes = new Map([...conns].map(([a, r]) => [a, r.pipeline()] as const));
    for (let k = i; k < Math.min(i + 20_000, KEYS); k++) {
      const key = `key:${k}`;
      pipes.get(owner[keyHashSlot(key)]!)!.set(key, VALUE);
    }
    await Promise.all([...pipes.values()].map((p) => p.exec()));
  }
  for (const r of conns.values()) r.disconnect();
}

async function dbsize(address: string): Promise<number> {
  return Number((await cli('-p', address.split(':')[1]!, 'DBSIZE')).trim());
}

/** No key lost: the masters hold KEYS keys between them, the new one `moved` of them. */
async function checkKeys(side: string, moved: number): Promise<void> {
  const view = parseClusterNodes(await cli('-p', String(PORT), 'CLUSTER', 'NODES'));
  const masters = view.filter((n) => n.role === 'master').map((n) => n.address);
  const sizes = await Promise.all(masters.map(dbsize));
  const total = sizes.reduce((a, b) => a + b, 0);
  const onNew = await dbsize(NEW_MASTER);
  if (total !== KEYS || onNew !== moved) throw new Error(`${side}: the masters hold ${total} keys (${KEYS} loaded), ${NEW_MASTER} ${onNew} (${moved} moved)`);
}

/**
 * redis-cli's rebalance fails where gossip has not yet introduced the new master (ERR Unknown
 * node) or the new master has not yet seen every slot served (CLUSTERDOWN from MIGRATE).
 */
async function everyNodeKnows(address: string): Promise<void> {
  const id = parseClusterNodes(await cli('-p', address.split(':')[1]!, 'CLUSTER', 'NODES')).find((n) => n.myself)!.id;
  for (const node of [...NODES, address]) {
    for (let tries = 0; ; tries++) {
      const known = parseClusterNodes(await cli('-p', node.split(':')[1]!, 'CLUSTER', 'NODES')).find((n) => n.id === id);
      if (known && !known.flags.includes('handshake') && known.linkState === 'connected') break;
      if (tries === 300) throw new Error(`${node} does not know ${address} (${id}) after 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  while (!(await cli('-p', address.split(':')[1]!, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) await new Promise((r) => setTimeout(r, 100));
}

/** The same plan up to node ids: they differ between fresh clusters, and planRebalance breaks ties between masters by them. */
const samePlan = (a: RebalancePlan, b: RebalancePlan) => a.slotsToMove === b.slotsToMove && a.moves.length === b.moves.length;
const describePlan = (p: RebalancePlan) => p.moves.map((m) => `${m.from.address} -> ${m.to.address} ${formatSlotRanges(m.slots)}`).join(', ');

async function main(): Promise<void> {
  rmSync(STATE, { recursive: true, force: true });
  mkdirSync(STATE, { recursive: true });
  process.env.REDIS_REQUIREPASS = password;
  const inventoryData = {
    clusters: { bench: { nodes: NODES, spareNodes: [NEW_MASTER], runtime: 'local', commandTimeoutMs: 60_000 } },
    runtimes: { local: { type: 'process', baseDir: join(STATE, 'nodes'), nodeTimeoutMs: 5000 } },
  };
  const inventory = parseInventory(inventoryData);
  writeFileSync(join(STATE, 'inventory.json'), JSON.stringify(inventoryData));
  const runtime = new ProcessRuntime(inventory.runtimes.local as never, { password });
  const server = await startDevServer({ port: 27333, headless: true, logFile: join(STATE, 'temporal.log') });
  const probe = WITH_LOOP_DELAY ? ['--import', join(__dirname, 'loopDelayProbe.ts')] : [];
  const worker = spawn(process.execPath, [...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', PROFILES] : []), '--import', 'tsx', ...probe, join(ROOT, 'worker.ts')], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LOOP_DELAY_FILE: LOOP_DELAY, TEMPORAL_ADDRESS: server.address, REDISFORGE_INVENTORY: join(STATE, 'inventory.json'), REDIS_REQUIREPASS: password },
  });
  await new Promise<void>((ok) => worker.stdout!.on('data', (d: Buffer) => d.toString().includes('redisforge worker:') && ok()));
  const client = new Client({ connection: await Connection.connect({ address: server.address }), dataConverter: dataConverterFromEnv() });
  const workflow = <T>(type: string, input: object, workflowId = `bench-${type}-${Date.now()}`) =>
    client.workflow.execute<(i: object) => Promise<T>>(type, { taskQueue: 'redisforge-ops', workflowId, args: [input] });

  // A bus port (port + 10000) lies in Linux's ephemeral range: when a client socket holds it, redis-server exits at once.
  const start = (node: string, tries = 3): Promise<void> =>
    runtime.start(node).catch((err: unknown) => (tries > 1 ? new Promise((r) => setTimeout(r, 500)).then(() => start(node, tries - 1)) : Promise.reject(err)));
  const fresh = async (label: string) => {
    await Promise.all([...NODES, NEW_MASTER].map((n) => runtime.kill(n)));
    rmSync(join(STATE, 'nodes'), { recursive: true, force: true });
    await Promise.all(NODES.map((n) => start(n)));
    await workflow('createCluster', { cluster: 'bench' });
    const t = Date.now();
    await loadKeys();
    console.log(`[${label}] loaded ${KEYS} keys in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    await start(NEW_MASTER);
  };
  // CPU of every process over one side's move: where a 2-core machine's time went.
  const cpuOver = async <T>(fn: () => Promise<T>) => {
    const pids = { worker: worker.pid, temporal: server.process.pid };
    const bench0 = process.cpuUsage();
    const before = { worker: cpuMs(pids.worker), temporal: cpuMs(pids.temporal), redis: await nodeStats([...NODES, NEW_MASTER], password, true) };
    const t0 = Date.now();
    const value = await fn();
    const seconds = (Date.now() - t0) / 1000;
    const bench = process.cpuUsage(bench0);
    const redis = await nodeStats([...NODES, NEW_MASTER], password);
    const redisMs = redis.reduce((n, r, i) => n + r.cpuMs - before.redis[i]!.cpuMs, 0);
    const cpu = `worker ${cpuMs(pids.worker) - before.worker} ms, temporal ${cpuMs(pids.temporal) - before.temporal} ms, bench ${Math.round((bench.user + bench.system) / 1000)} ms, redis nodes ${Math.round(redisMs)} ms`;
    return { value, seconds, cpu, redis };
  };

  const results: { side: string; seconds: number; keys: number; rate: number }[] = [];
  const notes: string[] = [];
  let succeeded = false;
  try {
    // Ours: addNode without rebalance, then the rebalance workflow, timed end to end.
    await fresh('redisforge');
    await workflow('addNode', { cluster: 'bench', address: NEW_MASTER, role: 'master', rebalance: false });
    const oursId = `bench-rebalance-${Date.now()}`;
    const from = process.hrtime.bigint();
    const ours = await cpuOver(() => workflow<RebalanceReport>('rebalance', { cluster: 'bench' }, oursId));
    const to = process.hrtime.bigint();
    const report = ours.value;
    await checkKeys('ours', report.keysMoved);
    results.push({ side: 'redisforge rebalance workflow', seconds: ours.seconds, keys: report.keysMoved, rate: report.keysMoved / ours.seconds });
    const rssKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${worker.pid}/status`, 'utf8'))![1]);
    notes.push(`ours: moving phase (the workflow's movingMs) ${report.keysPerSecond} keys/s; CPU over the run: ${ours.cpu}`);
    notes.push(...(await migrationBreakdown(client, oursId)).map((l) => `ours: ${l}`));
    notes.push(`ours: redis commandstats: ${formatCommandStats(ours.redis)}`);

    // The floor: the same plan and steps, a bare loop, one per (source, target) pair as ours.
    await fresh('floor');
    await workflow('addNode', { cluster: 'bench', address: NEW_MASTER, role: 'master', rebalance: false });
    const floor = await cpuOver(() => floorRebalance(NODES[0]!, { password }));
    await checkKeys('floor', floor.value.keysMoved);
    if (!samePlan(floor.value.plan, report.plan)) throw new Error(`the floor planned ${describePlan(floor.value.plan)}; ours ${describePlan(report.plan)}`);
    results.push({ side: 'floor: bare loop, same plan, 1 loop per pair (5 round trips a slot)', seconds: floor.seconds, keys: floor.value.keysMoved, rate: floor.value.keysMoved / floor.seconds });
    notes.push(`plans: ours ${describePlan(report.plan)}; floor ${describePlan(floor.value.plan)}`);
    notes.push(`floor: ${floor.value.slotsMoved} slots, ${floor.value.migrateCalls} MIGRATE calls; CPU over the move: ${floor.cpu}`);
    notes.push(`floor: redis commandstats: ${formatCommandStats(floor.redis)}`);

    // The floor with our sequence of steps: what is left between it and ours is orchestration.
    await fresh('floor, steps as ours');
    await workflow('addNode', { cluster: 'bench', address: NEW_MASTER, role: 'master', rebalance: false });
    const asOurs = await cpuOver(() => floorRebalance(NODES[0]!, { password, steps: 'as-ours' }));
    await checkKeys('floor, steps as ours', asOurs.value.keysMoved);
    results.push({ side: 'bare loop, steps as ours (8 round trips a slot)', seconds: asOurs.seconds, keys: asOurs.value.keysMoved, rate: asOurs.value.keysMoved / asOurs.seconds });
    notes.push(`bare loop, steps as ours: CPU over the move: ${asOurs.cpu}`);

    // Our activity's code without the workflow, the worker or the server around it.
    await fresh('migrateSlots alone');
    await workflow('addNode', { cluster: 'bench', address: NEW_MASTER, role: 'master', rebalance: false });
    const aloneProfile = CPU_PROF ? await profiled(() => cpuOver(() => activityLoop(NODES[0]!, password, inventory.clusters.bench!))) : undefined;
    const alone = aloneProfile?.value ?? (await cpuOver(() => activityLoop(NODES[0]!, password, inventory.clusters.bench!)));
    if (aloneProfile) notes.push(...summarizeCpuProfile(aloneProfile.profile, aloneProfile.fromNs, aloneProfile.toNs, 'migrateSlots alone: this process\'s'));
    await checkKeys('migrateSlots alone', alone.value.keysMoved);
    results.push({ side: 'our migrateSlots activity in a bare loop (no Temporal)', seconds: alone.seconds, keys: alone.value.keysMoved, rate: alone.value.keysMoved / alone.seconds });
    notes.push(`migrateSlots alone: CPU over the move: ${alone.cpu}`);

    for (const pipeline of WITH_REDIS_CLI ? [undefined, '100'] : []) {
      await fresh(`redis-cli pipeline ${pipeline ?? 'default'}`);
      await cli('--cluster', 'add-node', NEW_MASTER, NODES[0]!);
      await everyNodeKnows(NEW_MASTER);
      const t = Date.now();
      await cli('--cluster', 'rebalance', NODES[0]!, '--cluster-use-empty-masters', ...(pipeline ? ['--cluster-pipeline', pipeline] : []));
      const seconds = (Date.now() - t) / 1000;
      const moved = await dbsize(NEW_MASTER);
      await checkKeys(`redis-cli pipeline ${pipeline ?? 'default'}`, moved);
      results.push({ side: `redis-cli --cluster rebalance (pipeline ${pipeline ?? '10, default'})`, seconds, keys: moved, rate: moved / seconds });
    }

    console.log(`\nrebalance onto an empty 4th master, ${KEYS} keys of 100 bytes, 3x1 cluster, cluster-node-timeout 5000, appendonly yes; no key lost on any side`);
    for (const r of results) console.log(`  ${r.side.padEnd(66)} ${r.keys} keys in ${r.seconds.toFixed(2)} s = ${Math.round(r.rate)} keys/s`);
    const [oursRate, floorRate, asOursRate, aloneRate, cliDefault, cliBest] = results.map((r) => r.rate);
    console.log(`  ratio vs the floor:              ${(oursRate! / floorRate!).toFixed(2)}x (target >= 0.8x); moving phase only ${(report.keysPerSecond / floorRate!).toFixed(2)}x`);
    console.log(`  ratio vs the bare loop with our steps: ${(oursRate! / asOursRate!).toFixed(2)}x; that loop vs the floor ${(asOursRate! / floorRate!).toFixed(2)}x`);
    console.log(`  ratio vs our activity alone: ${(oursRate! / aloneRate!).toFixed(2)}x; the activity alone vs the floor ${(aloneRate! / floorRate!).toFixed(2)}x`);
    if (cliDefault && cliBest) {
      console.log(`  ratio vs redis-cli default:      ${(oursRate! / cliDefault).toFixed(2)}x (target >= 2x)`);
      console.log(`  ratio vs redis-cli pipeline 100: ${(oursRate! / cliBest).toFixed(2)}x (target >= 1.3x)`);
    }
    console.log(`  worker peak RSS: ${Math.round(rssKb / 1024)} MiB`);
    for (const n of notes) console.log(`  ${n}`);
    if (WITH_LOOP_DELAY) console.log(`  ${loopDelayOver(LOOP_DELAY, from, to)}`);
    if (CPU_PROF) {
      await stopWorker(worker);
      // One file per thread (CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile): the activities run on the main thread, 0.
      const file = readdirSync(PROFILES).find((f) => f.includes(`.${worker.pid}.0.`) && f.endsWith('.cpuprofile'));
      if (file) for (const l of summarizeCpuProfile(join(PROFILES, file), from, to)) console.log(`  ${l}`);
      else console.log(`  no CPU profile in ${PROFILES}`);
    }
    succeeded = true;
  } finally {
    await stopWorker(worker);
    await Promise.all([...NODES, NEW_MASTER].map((n) => runtime.kill(n)));
    await server.stop();
    if (!succeeded) console.error(`logs kept in ${STATE}`);
  }
}

/** SIGTERM, and wait for the exit: a worker profiled with --cpu-prof writes its profile as it exits. */
async function stopWorker(worker: ReturnType<typeof spawn>): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null) return;
  await new Promise<void>((done) => {
    const timer = setTimeout(() => worker.kill('SIGKILL'), 15_000);
    worker.once('exit', () => (clearTimeout(timer), done()));
    worker.kill('SIGTERM');
  });
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
