/**
 * bench/rebalance: 1,000,000 keys of 100-byte values on 3 masters with 1 replica each
 * (cluster-node-timeout 5000, appendonly yes); add an empty 4th master, then rebalance. Our
 * rebalance workflow (worker as a child process, Temporal overhead included) against
 * `redis-cli --cluster rebalance --cluster-use-empty-masters` on identical fresh clusters, with
 * its default pipeline (10) and with --cluster-pipeline 100. Prints keys/s, the ratios and the
 * worker's peak RSS. Targets: >= 2x redis-cli default, >= 1.3x its best pipeline.
 *
 *   npx tsx bench/rebalance.ts [keys=1000000]
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { dataConverterFromEnv } from '../src/codec';
import Redis from 'ioredis';
import { keyHashSlot, parseClusterNodes } from '../src/cluster';
import { parseInventory } from '../src/config';
import { ProcessRuntime } from '../src/runtime';
import { startDevServer } from '../src/client/devServer';
import type { RebalanceReport } from '../src/workflows/rebalance';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');
const STATE = join(ROOT, '.state', 'bench-rebalance');
const KEYS = Number(process.argv[2] ?? 1_000_000);
const PORT = 26001;
const NODES = Array.from({ length: 6 }, (_, i) => `127.0.0.1:${PORT + i}`);
const NEW_MASTER = `127.0.0.1:${PORT + 6}`;
const password = randomBytes(12).toString('hex');
const VALUE = 'v'.repeat(100);

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-a', password, '--no-auth-warning', ...args], { maxBuffer: 64 * 1024 * 1024 });
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

async function main(): Promise<void> {
  rmSync(STATE, { recursive: true, force: true });
  mkdirSync(STATE, { recursive: true });
  process.env.REDIS_REQUIREPASS = password;
  const inventoryData = {
    clusters: { bench: { nodes: NODES, runtime: 'local', commandTimeoutMs: 60_000 } },
    runtimes: { local: { type: 'process', baseDir: join(STATE, 'nodes'), nodeTimeoutMs: 5000 } },
  };
  const inventory = parseInventory(inventoryData);
  writeFileSync(join(STATE, 'inventory.json'), JSON.stringify(inventoryData));
  const runtime = new ProcessRuntime(inventory.runtimes.local as never, { password });
  const server = await startDevServer({ port: 27333, headless: true, logFile: join(STATE, 'temporal.log') });
  const worker = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'worker.ts')], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TEMPORAL_ADDRESS: server.address, REDISFORGE_INVENTORY: join(STATE, 'inventory.json'), REDIS_REQUIREPASS: password },
  });
  await new Promise<void>((ok) => worker.stdout!.on('data', (d: Buffer) => d.toString().includes('redisforge worker:') && ok()));
  const client = new Client({ connection: await Connection.connect({ address: server.address }), dataConverter: dataConverterFromEnv() });
  const workflow = <T>(type: string, input: object) =>
    client.workflow.execute<(i: object) => Promise<T>>(type, { taskQueue: 'redisforge-ops', workflowId: `bench-${type}-${Date.now()}`, args: [input] });

  const fresh = async (label: string) => {
    await Promise.all([...NODES, NEW_MASTER].map((n) => runtime.kill(n)));
    rmSync(join(STATE, 'nodes'), { recursive: true, force: true });
    await Promise.all(NODES.map((n) => runtime.start(n)));
    await workflow('createCluster', { cluster: 'bench' });
    const t = Date.now();
    await loadKeys();
    console.log(`[${label}] loaded ${KEYS} keys in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    await runtime.start(NEW_MASTER);
  };

  const results: { side: string; seconds: number; keys: number; rate: number }[] = [];
  try {
    // Ours: addNode without rebalance, then the rebalance workflow, timed end to end.
    await fresh('redisforge');
    await workflow('addNode', { cluster: 'bench', address: NEW_MASTER, role: 'master', rebalance: false });
    let t = Date.now();
    const report = await workflow<RebalanceReport>('rebalance', { cluster: 'bench' });
    let seconds = (Date.now() - t) / 1000;
    results.push({ side: 'redisforge rebalance workflow', seconds, keys: report.keysMoved, rate: report.keysMoved / seconds });
    const rssKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${worker.pid}/status`, 'utf8'))![1]);

    for (const pipeline of [undefined, '100']) {
      await fresh(`redis-cli pipeline ${pipeline ?? 'default'}`);
      await cli('--cluster', 'add-node', NEW_MASTER, NODES[0]!);
      await new Promise((r) => setTimeout(r, 2000));
      t = Date.now();
      await cli('--cluster', 'rebalance', NODES[0]!, '--cluster-use-empty-masters', ...(pipeline ? ['--cluster-pipeline', pipeline] : []));
      seconds = (Date.now() - t) / 1000;
      const moved = await dbsize(NEW_MASTER);
      results.push({ side: `redis-cli --cluster rebalance (pipeline ${pipeline ?? '10, default'})`, seconds, keys: moved, rate: moved / seconds });
    }

    console.log(`\nrebalance onto an empty 4th master, ${KEYS} keys of 100 bytes, 3x1 cluster, cluster-node-timeout 5000, appendonly yes`);
    for (const r of results) console.log(`  ${r.side.padEnd(52)} ${r.keys} keys in ${r.seconds.toFixed(1)} s = ${Math.round(r.rate)} keys/s`);
    const [ours, cliDefault, cliBest] = results;
    console.log(`  ratio vs redis-cli default:  ${(ours!.rate / cliDefault!.rate).toFixed(2)}x (target >= 2x)`);
    console.log(`  ratio vs redis-cli pipeline 100: ${(ours!.rate / cliBest!.rate).toFixed(2)}x (target >= 1.3x)`);
    console.log(`  worker peak RSS: ${Math.round(rssKb / 1024)} MiB`);
  } finally {
    worker.kill('SIGTERM');
    await Promise.all([...NODES, NEW_MASTER].map((n) => runtime.kill(n)));
    await server.stop();
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
