/**
 * bench/failover: the promotion time failoverTest reports against an independent poller of
 * CLUSTER NODES (bench/poller.ts: plain ioredis, 20 ms rounds) in the same run, with
 * cluster-node-timeout 5000 on six local redis-server processes; and how much longer the whole
 * drill takes than the Redis-side events it waits for (kill -> old master's link up).
 * Targets: workflow figures within 0.3 s of the poller's; drill overhead at most 1.5 s.
 *
 *   npx tsx bench/failover.ts [runs=3]
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { dataConverterFromEnv } from '../src/codec';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createWorker } from '../src/worker';
import { parseInventory } from '../src/config';
import { ProcessRuntime } from '../src/runtime';
import { startDevServer } from '../src/client/devServer';
import type { ClusterHealthResult } from '../src/workflows/clusterHealth';
import type { FailoverTestReport } from '../src/workflows/failoverTest';

const ROOT = resolve(__dirname, '..');
const STATE = join(ROOT, '.state', 'bench-failover');
const NODES = Array.from({ length: 6 }, (_, i) => `127.0.0.1:${23001 + i}`);
const RUNS = Number(process.argv[2] ?? 3);
const EVENTS = ['fail', 'promoted', 'ok', 'rejoined', 'linkUp'] as const;
const REPORTED: Record<(typeof EVENTS)[number], keyof FailoverTestReport['timings']> = {
  fail: 'failFlagMs', promoted: 'promotionMs', ok: 'clusterOkMs', rejoined: 'rejoinMs', linkUp: 'linkUpMs',
};

function startPoller(password: string, master: { id: string; address: string }, replica: string): Promise<{ events: Promise<Record<string, number>> }> {
  const survivors = NODES.filter((n) => n !== master.address);
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'poller.ts'), password, master.address, master.id, replica, survivors.join(',')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const events: Record<string, number> = {};
  const lines = createInterface({ input: child.stdout! });
  return new Promise((ready) => {
    const done = new Promise<Record<string, number>>((resolveEvents) => child.on('exit', () => resolveEvents(events)));
    lines.on('line', (line) => {
      const { event, at } = JSON.parse(line) as { event: string; at: number };
      if (event === 'ready') ready({ events: done });
      else events[event] = at;
    });
  });
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  rmSync(STATE, { recursive: true, force: true });
  const password = randomBytes(12).toString('hex');
  process.env.REDIS_REQUIREPASS = password;
  const inventory = parseInventory({
    clusters: { bench: { nodes: NODES, runtime: 'local' } },
    runtimes: { local: { type: 'process', baseDir: join(STATE, 'nodes'), nodeTimeoutMs: 5000 } },
  });
  const server = await startDevServer({ port: 27233, headless: true, logFile: join(STATE, '..', 'bench-temporal.log') });
  const runtime = new ProcessRuntime(inventory.runtimes.local as never, { password });
  try {
    await Promise.all(NODES.map((n) => runtime.start(n)));
    const worker = await createWorker({ inventory, connection: await NativeConnection.connect({ address: server.address }) });
    const client = new Client({ connection: await Connection.connect({ address: server.address }), dataConverter: dataConverterFromEnv() });
    await worker.runUntil(async () => {
      let lastId = '';
      const run = <T>(type: string, input: object) => {
        lastId = `bench-${type}-${Date.now()}`;
        return client.workflow.execute<(i: object) => Promise<T>>(type, { taskQueue: 'redisforge-ops', workflowId: lastId, args: [input] });
      };
      await run('createCluster', { cluster: 'bench' });
      const rows: string[][] = [];
      const diffs: Record<string, number[]> = {};
      const overheads: number[] = [];
      const ratios: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const health = await run<ClusterHealthResult>('clusterHealth', { cluster: 'bench' });
        const shard = health.shards[i % health.shards.length]!;
        const poller = await startPoller(password, shard.master, shard.replicas[0]!.address);
        const t0 = Date.now();
        const report = await run<FailoverTestReport>('failoverTest', { cluster: 'bench', master: shard.master.address, mode: 'kill', failback: false });
        const wall = Date.now() - t0;
        if (process.env.BENCH_DEBUG) await printActivitySpans(client, lastId, t0);
        const seen = await poller.events;
        const stopped = Date.parse(report.startedAt!);
        for (const e of EVENTS) {
          const byPoller = seen[e] !== undefined ? seen[e]! - stopped : NaN;
          const byWorkflow = report.timings[REPORTED[e]] ?? NaN;
          (diffs[e] ??= []).push(byWorkflow - byPoller);
          rows.push([String(i + 1), e, `${byWorkflow}`, `${byPoller}`, `${byWorkflow - byPoller}`]);
        }
        ratios.push(report.timings.promotionMs! / (seen.promoted! - stopped));
        overheads.push(wall - (seen.linkUp! - stopped));
        rows.push([String(i + 1), 'whole drill', `${wall}`, `${seen.linkUp! - stopped}`, `${wall - (seen.linkUp! - stopped)}`]);
      }
      const widths = [4, 12, 12, 12, 12];
      const line = (r: string[]) => r.map((c, j) => c.padStart(widths[j]!)).join(' ');
      console.log(`\nfailoverTest (mode kill, cluster-node-timeout 5000) vs an independent CLUSTER NODES poller, ${RUNS} runs; ms from SIGKILL`);
      console.log(line(['run', 'event', 'workflow', 'poller', 'difference']));
      for (const r of rows) console.log(line(r));
      const max = (xs: number[]) => Math.max(...xs.map(Math.abs));
      console.log('\nsummary');
      for (const e of EVENTS) console.log(`  ${e.padEnd(9)} largest |workflow - poller| = ${max(diffs[e]!)} ms (target <= 300 ms)`);
      console.log(`  promotion ratio workflow/poller: ${ratios.map((r) => r.toFixed(3)).join(', ')}`);
      console.log(`  drill overhead beyond the Redis-side events (kill -> link up): ${overheads.join(', ')} ms (target <= 1500 ms)`);
    });
  } finally {
    await Promise.all(NODES.map((n) => runtime.kill(n)));
    await server.stop();
  }
}

/** With BENCH_DEBUG=1: each activity of the last failoverTest, ms from the drill's start. */
async function printActivitySpans(client: Client, workflowId: string, t0: number): Promise<void> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const names = new Map<string, string>();
  for (const e of history.events!) {
    const at = Number(e.eventTime!.seconds) * 1000 + Math.round((e.eventTime!.nanos ?? 0) / 1e6) - t0;
    if (e.activityTaskScheduledEventAttributes) names.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType!.name!);
    if (e.activityTaskScheduledEventAttributes) console.log(`  ${at} scheduled ${names.get(String(e.eventId))}`);
    if (e.activityTaskCompletedEventAttributes) console.log(`  ${at} completed ${names.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId))}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
