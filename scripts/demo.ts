/**
 * npm run demo: the embedded stack (Temporal dev server with its Web UI, the cluster `local` of
 * six redis-server processes on 127.0.0.1:7001-7006, the worker), then a tour of the runbook
 * procedures as real workflows: createCluster, clusterHealth, failoverTest, addNode, removeNode,
 * backupCluster, restoreCluster onto six other nodes (127.0.0.1:7011-7016), verifyBackup,
 * routingCheck, repairCluster (a master and its replica killed) and upgradeRedis 7.0.15 -> 8.0.2.
 * Payloads are encrypted (a key made once in .state/demo/codec-keys); the Web UI decodes them
 * through the codec server on 127.0.0.1:8888. `npm run demo -- --keep` leaves it all running until Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { Cluster } from 'ioredis';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createWorker } from '../src/worker';
import { parseInventory } from '../src/config';
import { ProcessRuntime } from '../src/runtime/process';
import { acceptsConnections } from '../src/util/ports';
import { startDevServer } from '../src/client/devServer';
import { codecFromEnv, describeCodec, generateCodecKey, KEYS_ENV, KEYS_FILE_ENV, startCodecServer } from '../src/codec';
import { formatFailoverReport, formatHealthReport, summaryTable, workflowUrl } from '../src/client/format';
import { TASK_QUEUE } from '../src/client/connection';
import type { ClusterHealthResult } from '../src/workflows/clusterHealth';
import type { CreateClusterResult } from '../src/workflows/createCluster';
import type { FailoverTestReport } from '../src/workflows/failoverTest';
import type { AddNodeReport } from '../src/workflows/addNode';
import type { RemoveNodeReport } from '../src/workflows/removeNode';
import type { BackupReport } from '../src/workflows/backupCluster';
import type { RestoreReport } from '../src/workflows/restoreCluster';
import type { VerifyBackupReport } from '../src/workflows/verifyBackup';
import type { RoutingCheckReport } from '../src/workflows/routingCheck';
import type { RepairReport } from '../src/workflows/repairCluster';
import type { UpgradeRedisReport } from '../src/workflows/upgradeRedis';

const STATE = resolve(__dirname, '..', '.state', 'demo');
const NODES = Array.from({ length: 6 }, (_, i) => `127.0.0.1:${7001 + i}`);
/** Where the backup is restored: the same shape on other addresses. */
const RESTORED = Array.from({ length: 6 }, (_, i) => `127.0.0.1:${7011 + i}`);
const DEMO_KEYS = 10_000;
/** The process runtime's binaries: Debian's 7.0.15 and the 8.0.2 that scripts/setup.sh builds (skipped without it). */
const REDIS_8 = join(process.env.REDISFORGE_CACHE ?? join(homedir(), '.cache', 'redisforge'), 'redis-8.0.2', 'redis-server');
const VERSIONS: Record<string, string> = { '7.0.15': 'redis-server', ...(existsSync(REDIS_8) ? { '8.0.2': REDIS_8 } : {}) };
const keep = process.argv.includes('--keep');
const CODEC_PORT = 8888;

/** The demo's payload key: the caller's REDISFORGE_CODEC_KEYS(_FILE) if set, else one made once, 0600, in .state/demo. */
function demoCodecKeys(): string {
  if (process.env[KEYS_ENV]) return KEYS_ENV;
  if (process.env[KEYS_FILE_ENV]) return process.env[KEYS_FILE_ENV];
  const file = join(STATE, 'codec-keys');
  if (!existsSync(file)) writeFileSync(file, `# the demo's payload encryption key; put a new one first to rotate\n${generateCodecKey('demo')}\n`, { mode: 0o600 });
  process.env[KEYS_FILE_ENV] = file;
  return file;
}

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
  for (const port of [7233, 8233, CODEC_PORT, ...[...NODES, ...RESTORED].map((n) => Number(n.split(':')[1]))]) {
    if (await acceptsConnections(`127.0.0.1:${port}`)) throw new Error(`port ${port} on 127.0.0.1 is in use: stop whatever runs there (a previous demo with --keep?) and try again`);
  }
  const password = demoPassword();
  process.env.REDIS_REQUIREPASS = password;
  const keysFrom = demoCodecKeys();
  const codec = codecFromEnv();
  Runtime.install({ logger: new DefaultLogger('WARN') });

  const inventoryFile = join(STATE, 'inventory.json');
  const inventory = parseInventory(
    {
      clusters: {
        // addNode adds 7007 and verifyBackup's scratch cluster takes 7021-7026: the worker contacts only what the inventory lists.
        local: { nodes: NODES, masters: 3, replicasPerMaster: 1, runtime: 'local', backupStore: 'local', spareNodes: ['127.0.0.1:7007-7010'], scratchPorts: '7021-7026' },
        restored: { nodes: RESTORED, masters: 3, replicasPerMaster: 1, runtime: 'restored', backupStore: 'local' },
      },
      runtimes: {
        local: { type: 'process', baseDir: join(STATE, 'nodes'), nodeTimeoutMs: 5000, versions: VERSIONS, defaultVersion: '7.0.15' },
        restored: { type: 'process', baseDir: join(STATE, 'restored'), nodeTimeoutMs: 5000, versions: VERSIONS, defaultVersion: '7.0.15' },
      },
      stores: { local: { type: 'fs', path: join(STATE, 'backups') } },
    },
    inventoryFile,
  );
  writeFileSync(inventoryFile, JSON.stringify(inventory, null, 2));

  console.log(`Starting the codec server on 127.0.0.1:${CODEC_PORT}: ${describeCodec(codec)} (from ${keysFrom}) ...`);
  const codecServer = await startCodecServer({ codec, port: CODEC_PORT, origins: ['http://127.0.0.1:8233', 'http://localhost:8233'] });
  console.log('Starting the Temporal dev server on 127.0.0.1:7233 (Web UI http://127.0.0.1:8233, decoding through the codec server) ...');
  const server = await startDevServer({
    port: 7233, uiPort: 8233, dbFile: join(STATE, 'temporal.db'), logFile: join(STATE, 'temporal.log'), codecEndpoint: codecServer.url,
  }).catch(async (err: unknown) => {
    await codecServer.stop();
    throw err;
  });
  type ProcessConfig = Extract<(typeof inventory.runtimes)[string], { type: 'process' }>;
  const runtime = new ProcessRuntime(inventory.runtimes.local as ProcessConfig, { password });
  const restoredRuntime = new ProcessRuntime(inventory.runtimes.restored as ProcessConfig, { password });
  const stopAll = async () => {
    await Promise.all([...NODES, '127.0.0.1:7007'].map((n) => runtime.stop(n).catch(() => runtime.kill(n))));
    await Promise.all(RESTORED.map((n) => restoredRuntime.stop(n).catch(() => restoredRuntime.kill(n))));
    await server.stop();
    await codecServer.stop();
  };

  try {
    console.log(`Starting six empty redis-server processes on ${NODES[0]} .. ${NODES[5]} (data in ${join(STATE, 'nodes')}) ...`);
    for (const dir of ['nodes', 'restored', 'backups']) rmSync(join(STATE, dir), { recursive: true, force: true });
    await Promise.all(NODES.map((n) => runtime.start(n)));

    console.log('Starting the worker on task queue redisforge-ops ...');
    const connection = await NativeConnection.connect({ address: server.address });
    const worker = await createWorker({ inventory, connection, codec });
    const client = new Client({ connection: await Connection.connect({ address: server.address }), dataConverter: { payloadCodecs: [codec] } });
    // The server keeps its history between demos; an operation a previous one left running
    // (a restore waiting for approval) would still hold its cluster.
    for await (const wf of client.workflow.list({ query: 'ExecutionStatus = "Running"' })) {
      await client.workflow.getHandle(wf.workflowId, wf.runId).terminate('left running by a previous demo');
      console.log(`  terminated ${wf.workflowId}, left running by a previous demo`);
    }

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

      console.log(`\nWriting ${DEMO_KEYS} keys through a cluster client ...`);
      await writeDemoKeys(NODES[0]!, password);

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

      console.log('\nRunning backupCluster {"cluster":"local"} (a fresh AOF rewrite per shard, read from a replica, into .state/demo/backups) ...');
      const backup = await run<BackupReport>('backupCluster', { cluster: 'local' }, (r) => `${r.backupId}: ${r.keys} keys, ${(r.bytes / 1024).toFixed(0)} KiB`);
      for (const s of backup.shards) console.log(`  shard ${s.index} (slots ${s.slots}) from ${s.role} ${s.source}: ${s.keys} keys, ${s.bytes} bytes`);

      console.log(`\nRunning restoreCluster {"cluster":"restored","from":"local","backupId":"${backup.backupId}","approve":true} (onto ${RESTORED[0]} .. ${RESTORED[5]}) ...`);
      const restored = await run<RestoreReport>('restoreCluster', { cluster: 'restored', from: 'local', backupId: backup.backupId, approve: true }, (r) =>
        `${r.keys.reduce((n, k) => n + k.restored, 0)} keys on ${Object.keys(r.moved).length} new addresses`);
      for (const a of restored.plan) console.log(`  ${a.fromAddress} -> ${a.toAddress} (${a.role}, node id ${a.fromId.slice(0, 8)} kept)`);

      console.log('\nRunning verifyBackup {"cluster":"local","basePort":7021} (a restore drill into a scratch cluster, then torn down) ...');
      await run<VerifyBackupReport>('verifyBackup', { cluster: 'local', backupId: backup.backupId, basePort: 7021 }, (r) =>
        `${r.keys.reduce((n, k) => n + k.restored, 0)} keys restored, as in the manifest`);

      console.log('\nRunning routingCheck {"cluster":"local"} (keys in every slot range, on a plain connection to one node) ...');
      const routing = await run<RoutingCheckReport>('routingCheck', { cluster: 'local' }, (r) =>
        `MOVED on ${r.direct.redirectedRanges.length}/${r.ranges} ranges direct to one node${r.proxy ? '' : ' (no client endpoint)'}`);
      console.log(`  direct to ${routing.direct.address}: MOVED for ${routing.direct.redirectedRanges.length} of ${routing.ranges} slot ranges (${routing.direct.asExpected ? 'as expected' : 'unexpected'})`);
      console.log(`  ${routing.direct.advice}`);

      const now = await client.workflow.execute<(i: object) => Promise<ClusterHealthResult>>('clusterHealth', { taskQueue: TASK_QUEUE, workflowId: `demo-topology-${Date.now()}`, args: [{ cluster: 'local' }] });
      const shard = now.shards[2]!;
      console.log(`\nKilling ${shard.master.address} and its replica ${shard.replicas[0]!.address}: slots ${shard.slots} are served by nobody (CLUSTERDOWN) ...`);
      await Promise.all([shard.master.address, shard.replicas[0]!.address].map((n) => runtime.kill(n)));
      await sleep(6000);
      console.log('Running repairCluster {"cluster":"local"} (restart what is down, close open slots, check every slot is served) ...');
      const repair = await run<RepairReport>('repairCluster', { cluster: 'local' }, (r) => `${r.nodesRestarted.length} nodes restarted, ${r.repaired ? 'repaired' : 'NOT repaired'}`);
      console.log(`  restarted ${repair.nodesRestarted.join(', ')}; ${repair.repaired ? 'every slot served again' : repair.notes.join('; ')}`);

      if (VERSIONS['8.0.2']) {
        console.log('\nRunning upgradeRedis {"cluster":"local","version":"8.0.2"} (replicas first, a verified failover per shard, then the old masters) ...');
        const upgrade = await run<UpgradeRedisReport>('upgradeRedis', { cluster: 'local', version: '8.0.2' }, (r) => `${r.replaced.filter((n) => n.changed).length} nodes on ${r.version}, ${r.failovers.length} failovers`);
        for (const f of upgrade.failovers) console.log(`  slots ${f.slots}: ${f.from} -> ${f.to} in ${(f.tookMs / 1000).toFixed(1)} s`);
        console.log(`  every node now reports redis_version ${[...new Set(upgrade.nodes.map((n) => n.redisVersion))].join(', ')}`);
      } else {
        console.log(`\n(upgradeRedis skipped: no ${REDIS_8}; scripts/setup.sh builds it with the Docker images)`);
      }

      console.log(`\n${summaryTable(rows)}\n`);
      console.log(`Temporal Web UI: ${server.uiUrl} (filter with: RedisCluster = "local")`);
      if (keep) {
        console.log(
          `\nEverything keeps running (Ctrl-C to stop). Try:\n` +
            `  REDIS_REQUIREPASS=$(cat .state/demo/redis-password) redis-cli -c -p 7001 --no-auth-warning -a "$REDIS_REQUIREPASS" cluster info\n` +
            `  ${'temporal'} workflow execute --type clusterHealth --task-queue redisforge-ops --input '{"cluster":"local"}' --codec-endpoint ${codecServer.url}\n` +
            `  REDISFORGE_CODEC_KEYS_FILE=${keysFrom === KEYS_ENV ? '...' : keysFrom} npm run cli -- health --cluster local`,
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

/** Keys across all slots, so the backup and the restore have something to show. */
async function writeDemoKeys(seed: string, password: string): Promise<void> {
  const [host, port] = seed.split(':');
  const cluster = new Cluster([{ host: host!, port: Number(port) }], { redisOptions: { password } });
  try {
    for (let i = 0; i < DEMO_KEYS; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => cluster.set(`demo:${i + j}`, `value-${i + j}`)));
    }
  } finally {
    cluster.disconnect();
  }
}

main().catch((err) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
