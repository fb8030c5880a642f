/**
 * A real 3-master 3-replica cluster of redis-server processes, formed by our own createCluster
 * workflow through the shared worker, and removed afterwards, processes and directories.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import Redis from 'ioredis';
import { parseInventory } from '../../src/config';
import { createRuntime, DockerRuntime, ProcessRuntime, type NodeRuntime } from '../../src/runtime';
import type { ClusterHealthResult } from '../../src/workflows/clusterHealth';
import type { CreateClusterResult } from '../../src/workflows/createCluster';
import { findTemporalCli } from '../../src/client/devServer';
import { NODES_DIR, ROOT, TASK_QUEUE, TEMPORAL_ADDRESS, TEST_CLUSTERS, testInventory, type TestClusterName } from './env';
import { splitAddress } from '../../src/cluster';
import { CODEC_URL, testDataConverter } from './codec';
import { eventually } from '../helpers/waitFor';

let clientPromise: Promise<Client> | undefined;

export function testClient(): Promise<Client> {
  clientPromise ??= Connection.connect({ address: TEMPORAL_ADDRESS }).then((connection) => new Client({ connection, dataConverter: testDataConverter() }));
  return clientPromise;
}

let sequence = 0;
export function workflowId(prefix: string): string {
  return `test-${prefix}-${Date.now()}-${++sequence}`;
}

/** Runs a workflow by its public type name, as `temporal workflow start --type` would. */
export async function runWorkflow<T = unknown>(type: string, input: unknown, id = workflowId(type)): Promise<T> {
  const client = await testClient();
  return client.workflow.execute<(input: unknown) => Promise<T>>(type, { taskQueue: TASK_QUEUE, workflowId: id, args: [input] });
}

/** Runs a workflow that must fail; returns its failure (the cause of WorkflowFailedError). */
export async function runWorkflowFailure(type: string, input: unknown, id = workflowId(type)): Promise<Error & { type?: string; nonRetryable?: boolean; details?: unknown[] }> {
  try {
    await runWorkflow(type, input, id);
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause) return err.cause as Error & { type?: string };
    throw err;
  }
  throw new Error(`${type} succeeded, expected a failure`);
}

export function password(): string {
  const pw = process.env.REDIS_REQUIREPASS;
  if (!pw) throw new Error('REDIS_REQUIREPASS is not set: the harness globalSetup did not run');
  return pw;
}

export async function withRedis<T>(address: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const { host, port } = splitAddress(address);
  const redis = new Redis({ host, port, password: password(), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  await redis.connect();
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

const execFileAsync = promisify(execFile);

/**
 * A test port must be free before its node starts: a redis-server left on it by another checkout
 * or a killed run (whose directory is gone, so remove() cannot find it) would answer for the new
 * node, which then fails to bind and never writes its pid file. Such a leftover is killed; anything
 * else on the port fails the start with its name.
 */
async function freePort(address: string): Promise<void> {
  const { port } = splitAddress(address);
  const listeners = async () => {
    const { stdout } = await execFileAsync('ss', ['-ltnpH', `sport = :${port}`]).catch(() => ({ stdout: '' }));
    const byPid = new Map([...stdout.matchAll(/\("([^"]+)",pid=(\d+)/g)].map((m) => [Number(m[2]), m[1]!]));
    return [...byPid].map(([pid, name]) => ({ name, pid }));
  };
  const found = await listeners();
  if (!found.length) return;
  // Valkey through its root's loader shows as ld-linux: its command line names it.
  const isServer = (l: { name: string; pid: number }) => /redis|valkey/.test(l.name) || /redis|valkey/.test(readFileSync(`/proc/${l.pid}/cmdline`, 'utf8').toString());
  const stray = found.filter((l) => {
    try {
      return !isServer(l);
    } catch {
      return false;
    }
  });
  if (stray.length) throw new Error(`test port ${port} is taken by ${stray.map((l) => `${l.name} (pid ${l.pid})`).join(', ')}: stop it, or run on a free machine`);
  console.warn(`test port ${port}: killing a leftover ${found.map((l) => `${l.name} (pid ${l.pid})`).join(', ')} from an earlier run`);
  for (const l of found) {
    try {
      process.kill(l.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  await eventually(`port ${port} to be free`, listeners, (l) => l.length === 0, { timeoutMs: 10_000 });
}

export class TestCluster {
  private constructor(
    readonly name: TestClusterName,
    readonly nodes: readonly string[],
    readonly runtime: NodeRuntime,
  ) {}

  /** Starts six empty nodes (processes or containers); with `form`, makes them a cluster with createCluster. */
  static async start(name: TestClusterName, { form = true, version }: { form?: boolean; version?: string } = {}): Promise<TestCluster> {
    const inventory = parseInventory(testInventory());
    const runtime = createRuntime(inventory, name, { password: password() })!;
    const cluster = new TestCluster(name, TEST_CLUSTERS[name].nodes, runtime);
    await cluster.remove();
    if (runtime instanceof ProcessRuntime) await Promise.all(cluster.nodes.map(freePort));
    await Promise.all(cluster.nodes.map((n) => runtime.provision(n, version)));
    if (form) await cluster.form();
    return cluster;
  }

  /** Kills every node, added ones too, and removes its data: directories, or containers and volumes. */
  private async remove(): Promise<void> {
    const runtime = this.runtime;
    if (runtime instanceof DockerRuntime) await Promise.all(this.nodes.map((n) => runtime.deprovision(n)));
    else {
      // Every node the runtime ever ran for this cluster, added ones included.
      const dirs = existsSync(join(NODES_DIR, this.name)) ? readdirSync(join(NODES_DIR, this.name)) : [];
      await Promise.all([...new Set([...this.nodes, ...dirs.map((port) => `127.0.0.1:${port}`)])].map((n) => runtime.kill(n)));
    }
    rmSync(join(NODES_DIR, this.name), { recursive: true, force: true });
  }

  /** The pid of a process-runtime node (for SIGSTOP in tests). */
  pid(address: string): number {
    if (!(this.runtime instanceof ProcessRuntime)) throw new Error('pid() is for the process runtime');
    return Number(readFileSync(join(this.runtime.nodeDir(address), 'redis.pid'), 'utf8'));
  }

  async form(input: Record<string, unknown> = {}, id = workflowId(`createCluster-${this.name}`)): Promise<CreateClusterResult> {
    return runWorkflow<CreateClusterResult>('createCluster', { cluster: this.name, ...input }, id);
  }

  async destroy(): Promise<void> {
    await this.remove();
  }

  health(): Promise<ClusterHealthResult> {
    return runWorkflow<ClusterHealthResult>('clusterHealth', { cluster: this.name });
  }

  /**
   * Runs clusterHealth until `accept` holds (a planted problem takes a gossip round to show);
   * fails with the last report when it never does. A failing health run fails the wait at once.
   */
  healthUntil(accept: (r: ClusterHealthResult) => boolean, timeoutMs = 30_000): Promise<ClusterHealthResult> {
    return eventually(`the health of ${this.name} to be as expected`, () => this.health(), accept, { timeoutMs, everyMs: 250, fatal: () => true });
  }
}

export function findingCodes(report: { findings: { code: string }[] }): string[] {
  return [...new Set(report.findings.map((f) => f.code))].sort();
}

/**
 * A workflow's history as the Temporal CLI writes it (the canonical JSON form historyFromJSON
 * reads back), decoded through the run's codec server: recorded histories must outlive the
 * run's key, so they are kept plain. (Asynchronously: the codec server answers from this very process.)
 */
export async function plainHistoryJson(id: string): Promise<string> {
  const args = ['workflow', 'show', '--workflow-id', id, '--output', 'json', '--address', TEMPORAL_ADDRESS, '--codec-endpoint', CODEC_URL];
  return (await promisify(execFile)(findTemporalCli(), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })).stdout;
}

/**
 * With REDISFORGE_RECORD_HISTORIES=1, saves a finished workflow's history under test/histories
 * as `<name>.json`, for the replay test that guards every later change to workflow code.
 */
export async function recordHistory(workflowIdToSave: string, name: string): Promise<void> {
  if (process.env.REDISFORGE_RECORD_HISTORIES !== '1') return;
  writeFileSync(join(ROOT, 'test', 'histories', `${name}.json`), await plainHistoryJson(workflowIdToSave));
}
