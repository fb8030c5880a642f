/**
 * npm run demo: the embedded stack (Temporal dev server with its Web UI, the cluster `local` of
 * six redis-server processes on 127.0.0.1:7001-7006, the worker), then a tour of the runbook
 * procedures as real workflows: createCluster, clusterHealth, failoverTest, addNode, removeNode. `npm run demo -- --keep` leaves it all running until Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createWorker } from '../worker';
import { parseInventory } from '../src/config';
import { ProcessRuntime } from '../src/runtime/process';
import { acceptsConnections } from '../src/runtime/wait';
import { startDevServer } from '../src/client/devServer';
import { formatFailoverReport, formatHealthReport, summaryTable, workflowUrl } from '../src/client/format';
import { TASK_QUEUE } from '../src/client/connection';
import type { ClusterHealthResult } from '../src/workflows/clusterHealth';
import type { CreateClusterResult } from '../src/workflows/createCluster';
import type { FailoverTestReport } from '../src/workflows/failoverTest';
import type { AddNodeReport } from '../src/workflows/addNode';
import type { RemoveNodeReport } from '../src/workflows/removeNode';

const STATE = resolve(__dirname, '..', '.state', 'demo');
const NODES = Array.from({ length: 6 }, (_, i) => `127.0.0.1:${7001 + i}`);
const keep = process.argv.includes('--keep');

/** The demo's Redis password: REDIS_REQUIREPASS if set, else one generated once and kept in .state/demo. */
function demoPassword(): string {
  if (process.env.REDIS_REQUIREPASS) return process.env.REDIS_REQUIREPASS;
  const file = join(STATE, 'redis-password');
  if (!existsSync(file)) writeFileSync(file, randomBytes(16).toString('hex'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log('usage: npm run demo [-- --keep]\n  --keep  leave the Temporal server, the cluster and the worker running until Ctrl-C');
    return;
  }
  mkdirSync(STATE, { recursive: true });
  for (const port of [7233, 8233, ...NODES.map((n) => Number(n.split(':')[1]))]) {
    if (await acceptsConnections(`127.0.0.1:${port}`)) throw new Error(`port ${port} on 127.0.0.1 is in use: stop whatever runs there (a previous demo with --keep?) and try again`);
  }
  const password = demoPassword();
  process.env.REDIS_REQUIREPASS = password;
  Runtime.install({ logger: new DefaultLogger('WARN') });

  const inventoryFile = join(STATE, 'inventory.json');
  const inventory = parseInventory(
    {
      clusters: { local: { nodes: NODES, masters: 3, replicasPerMaster: 1, runtime: 'local', backupStore: 'local' } },
      runtimes: { local: { type: 'process', baseDir: join(STATE, 'nodes'), nodeTimeoutMs: 5000 } },
      stores: { local: { type: 'fs', path: join(STATE, 'backups') } },
    },
    inventoryFile,
  );
  writeFileSync(inventoryFile, JSON.stringify(inventory, null, 2));

  console.log('Starting the Temporal dev server on 127.0.0.1:7233 (Web UI http://127.0.0.1:8233) ...');
  const server = await startDevServer({ port: 7233, uiPort: 8233, dbFile: join(STATE, 'temporal.db'), logFile: join(STATE, 'temporal.log') });
  const runtime = new ProcessRuntime(inventory.runtimes.local as Extract<(typeof inventory.runtimes)[string], { type: 'process' }>, { password });
  const stopAll = async () => {
    await Promise.all([...NODES, '127.0.0.1:7007'].map((n) => runtime.stop(n).catch(() => runtime.kill(n))));
    await server.stop();
  };

  try {
    console.log(`Starting six empty redis-server processes on ${NODES[0]} .. ${NODES[5]} (data in ${join(STATE, 'nodes')}) ...`);
    rmSync(join(STATE, 'nodes'), { recursive: true, force: true });
    await Promise.all(NODES.map((n) => runtime.start(n)));

    console.log('Starting the worker on task queue redisforge-ops ...');
    const connection = await NativeConnection.connect({ address: server.address });
    const worker = await createWorker({ inventory, connection });
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });

    await worker.runUntil(async () => {
      const rows: Parameters<typeof summaryTable>[0] = [];
      const run = async <T>(procedure: string, input: object, describe: (r: T) => string): Promise<T> => {
        const workflowId = `demo-${procedure}-${Date.now()}`;
        const started = Date.now();
        const result = await client.workflow.execute<(i: object) => Promise<T>>(procedure, { taskQueue: TASK_QUEUE, workflowId, args: [input] });
        rows.push({ procedure, result: describe(result), durationMs: Date.now() - started, link: workflowUrl(server.uiUrl!, 'default', workflowId) });
        return result;
      };

      console.log('\nRunning createCluster {"cluster":"local"} ...');
      const created = await run<CreateClusterResult>('createCluster', { cluster: 'local' }, (r) => `${r.layout.masters.length} masters, ${r.layout.replicas.length} replicas`);
      for (const m of created.layout.masters) console.log(`  master ${m.address} slots ${m.slots}`);
      for (const r of created.layout.replicas) console.log(`  replica ${r.address} of ${r.masterAddress}`);

      console.log('\nRunning clusterHealth {"cluster":"local"} ...\n');
      const health = await run<ClusterHealthResult>('clusterHealth', { cluster: 'local' }, (r) => (r.healthy ? 'healthy' : `${r.findings.length} findings`));
      console.log(formatHealthReport('local', health));

      console.log('\nRunning failoverTest {"cluster":"local","mode":"kill"} (SIGKILL a master, as a crash would) ...\n');
      const drill = await run<FailoverTestReport>('failoverTest', { cluster: 'local', mode: 'kill' }, (r) =>
        `promoted in ${((r.timings.promotionMs ?? 0) / 1000).toFixed(1)} s, ${r.canaries.lost} canaries lost`);
      console.log(formatFailoverReport(drill));

      console.log('\nRunning addNode {"cluster":"local","address":"127.0.0.1:7007","role":"master"} (a new process, then a rebalance onto it) ...');
      const added = await run<AddNodeReport>('addNode', { cluster: 'local', address: '127.0.0.1:7007', role: 'master' }, (r) =>
        `${r.rebalance?.slotsMoved ?? 0} slots moved to it`);
      console.log(`  ${added.address} joined as master; ${added.rebalance?.slotsMoved} slots and ${added.rebalance?.keysMoved} keys moved onto it`);

      console.log('\nRunning removeNode {"cluster":"local","node":"127.0.0.1:7007"} (drained, forgotten, stopped) ...');
      const removed = await run<RemoveNodeReport>('removeNode', { cluster: 'local', node: '127.0.0.1:7007' }, (r) => `${r.slotsDrained} slots drained`);
      console.log(`  ${removed.node.address} removed: ${removed.slotsDrained} slots drained back onto ${removed.after.length} masters`);

      console.log(`\n${summaryTable(rows)}\n`);
      console.log(`Temporal Web UI: ${server.uiUrl} (filter with: RedisCluster = "local")`);
      if (keep) {
        console.log(
          `\nEverything keeps running (Ctrl-C to stop). Try:\n` +
            `  REDIS_REQUIREPASS=$(cat .state/demo/redis-password) redis-cli -c -p 7001 --no-auth-warning -a "$REDIS_REQUIREPASS" cluster info\n` +
            `  ${'temporal'} workflow start --type clusterHealth --task-queue redisforge-ops --input '{"cluster":"local"}'`,
        );
        await new Promise<void>((done) => {
          process.once('SIGINT', done);
          process.once('SIGTERM', done);
        });
      }
    });
    await connection.close();
  } finally {
    console.log('\nStopping the cluster and the Temporal server ...');
    await stopAll();
  }
}

main().catch((err) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
