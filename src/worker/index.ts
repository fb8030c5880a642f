/**
 * The RedisForge Ops worker: runs every runbook workflow and its activities on the task queue
 * `redisforge-ops`. Connection settings come from the Temporal environment variables and
 * profiles (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*, TEMPORAL_API_KEY, ...), as
 * the Temporal CLI reads them; the inventory from REDISFORGE_INVENTORY (default ./redisforge.json);
 * the payload encryption keys from REDISFORGE_CODEC_KEYS or REDISFORGE_CODEC_KEYS_FILE; the log
 * format from REDISFORGE_LOG_FORMAT (text, or json: one object per line); Prometheus metrics on
 * REDISFORGE_METRICS_ADDRESS when it is set. With REDISFORGE_HOST (`redisforge worker --host`)
 * it is a host agent instead: no workflows, only the activities on redisforge-host-<name>, which
 * touch the nodes the inventory's clusters.<c>.hosts put on that host (see src/cluster/hosts.ts).
 */
import { Client } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createActivities } from '../activities';
import { taskQueueFromEnv } from '../shared';
import { HOST_NAME, hostTaskQueue } from '../cluster/hosts';
import { CodecConfigError, codecFromEnv, describeCodec, type EncryptionCodec } from '../codec';
import { InventoryError, inventoryPath, loadInventory, type Inventory } from '../config';
import { jsonLogLine, logFormatFromEnv, LogFormatError, workerLogger } from '../logging';
import { metricsAddressFromEnv, MetricsConfigError, metricsTelemetry } from './metrics';

export interface RedisForgeWorkerOptions {
  inventory: Inventory;
  /** The worker's connection; the lock activities' Temporal client uses it too. */
  connection: NativeConnection;
  namespace?: string;
  /** @default "redisforge-ops" */
  taskQueue?: string;
  /**
   * Where the per-cluster lock workflows run. Every worker that may start an operation on a
   * cluster must name the same queue, or a lock started on a queue nobody polls any more holds
   * the cluster. @default the worker's task queue
   */
  lockTaskQueue?: string;
  /**
   * A prebuilt workflow bundle. @default the one `npm run build` writes beside the compiled code
   * (dist/workflow-bundle.js, shipped in the package); from the TypeScript source, the workflows
   * are bundled at start.
   */
  workflowBundlePath?: string;
  env?: NodeJS.ProcessEnv;
  /** Worker interceptors (the test harness injects faults through them). */
  interceptors?: WorkerOptions['interceptors'];
  /** The payload codec; clients must use the same keys. @default the keys of `env` (plain payloads without any) */
  codec?: EncryptionCodec;
  /**
   * Be the host agent of this host (`redisforge worker --host NAME`): no workflows, only the
   * activities on the task queue redisforge-host-NAME, which the workflows send the node-local
   * steps of that host's nodes to (the inventory's clusters.<c>.hosts). `taskQueue` is ignored.
   */
  host?: string;
}

/** A --host (REDISFORGE_HOST) the inventory does not know. */
export class HostConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostConfigError';
  }
}

/** Refuses a host name no cluster of the inventory puts nodes on: its agent would wait for work that never comes. */
export function checkAgentHost(inventory: Inventory, host: string, source = '--host (REDISFORGE_HOST)'): void {
  if (!HOST_NAME.test(host)) throw new HostConfigError(`${source}: "${host}" is not a host name (letters, digits, - and _, at most 64)`);
  const known = [...new Set(Object.values(inventory.clusters).flatMap((c) => Object.keys(c.hosts ?? {})))];
  if (!known.includes(host)) {
    throw new HostConfigError(`${source}: no cluster of the inventory has a host "${host}" (clusters.<name>.hosts has: ${known.join(', ') || 'no hosts at all'}); name this machine as the inventory does`);
  }
}

/**
 * The bundle the build wrote beside this file's compiled code. From the TypeScript source there is
 * none: a bundle left in src/ could be older than the workflows, so it is never looked for there.
 */
export function prebuiltBundlePath(): string | undefined {
  if (!__filename.endsWith('.js')) return undefined;
  const path = join(__dirname, '..', 'workflow-bundle.js');
  return existsSync(path) ? path : undefined;
}

export function createWorker(options: RedisForgeWorkerOptions): Promise<Worker> {
  if (options.host !== undefined) return createHostAgent(options, options.host);
  const bundle = options.workflowBundlePath ?? prebuiltBundlePath();
  const workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = bundle
    ? { workflowBundle: { codePath: bundle } }
    : { workflowsPath: require.resolve('../workflows') };
  const namespace = options.namespace ?? 'default';
  const taskQueue = options.taskQueue ?? taskQueueFromEnv(process.env);
  const dataConverter = { payloadCodecs: [options.codec ?? codecFromEnv(options.env ?? process.env)] };
  // The lock activities' client shares the worker's connection, namespace and codec: the lock
  // workflows they start run where this worker's operations do, their payloads encrypted alike.
  const client = new Client({ connection: options.connection, namespace, dataConverter });
  return Worker.create({
    connection: options.connection,
    namespace,
    taskQueue,
    activities: createActivities(options.inventory, options.env, { client, lockTaskQueue: options.lockTaskQueue ?? taskQueue }),
    interceptors: options.interceptors,
    dataConverter,
    ...workflows,
  });
}

/** A host agent: the activities alone, on the host's own task queue. */
function createHostAgent(options: RedisForgeWorkerOptions, host: string): Promise<Worker> {
  checkAgentHost(options.inventory, host);
  const namespace = options.namespace ?? 'default';
  const dataConverter = { payloadCodecs: [options.codec ?? codecFromEnv(options.env ?? process.env)] };
  const client = new Client({ connection: options.connection, namespace, dataConverter });
  return Worker.create({
    connection: options.connection,
    namespace,
    taskQueue: hostTaskQueue(host),
    activities: createActivities(options.inventory, options.env, { client, lockTaskQueue: options.lockTaskQueue ?? taskQueueFromEnv(process.env), host }),
    interceptors: options.interceptors,
    dataConverter,
  });
}

/** Runs the worker from its environment until SIGINT/SIGTERM. */
export async function main(interceptors?: WorkerOptions['interceptors']): Promise<void> {
  const file = inventoryPath();
  const inventory = loadInventory(file);
  const codec = codecFromEnv();
  // Before any connection: the runtime takes its logger once, at its creation.
  const format = logFormatFromEnv();
  const metricsAddress = metricsAddressFromEnv();
  Runtime.install({ logger: workerLogger(format), telemetryOptions: metricsTelemetry(metricsAddress) });
  // The worker's own lines (stdout) in the same format as its log.
  const say = (message: string) => console.log(format === 'json' ? jsonLogLine({ level: 'INFO', message, timestampNanos: BigInt(Date.now()) * 1_000_000n }) : message);
  const host = process.env.REDISFORGE_HOST || undefined;
  if (host !== undefined) checkAgentHost(inventory, host);
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const connection = await NativeConnection.connect(connectionOptions);
  const bundle = process.env.REDISFORGE_WORKFLOW_BUNDLE || prebuiltBundlePath();
  const worker = await createWorker({
    inventory,
    connection,
    namespace,
    taskQueue: process.env.REDISFORGE_TASK_QUEUE,
    lockTaskQueue: process.env.REDISFORGE_LOCK_TASK_QUEUE,
    // A prebuilt bundle spares a bundle per worker start (the tests', or the package's own).
    workflowBundlePath: bundle,
    interceptors,
    codec,
    host,
  });
  say(host !== undefined
    ? `redisforge worker: host agent of ${host}, task queue ${worker.options.taskQueue}, namespace ${worker.options.namespace}, ` +
      `node-local activities only (inventory ${file}); ${describeCodec(codec)}${metricsAddress ? `; metrics on http://${metricsAddress}/metrics` : ''}`
    : 
    `redisforge worker: task queue ${worker.options.taskQueue}, namespace ${worker.options.namespace}, ` +
      `clusters: ${Object.keys(inventory.clusters).join(', ')} (inventory ${file}); ${describeCodec(codec)}; ` +
      `workflows ${bundle ? `from the bundle ${bundle}` : 'bundled at start'}${metricsAddress ? `; metrics on http://${metricsAddress}/metrics` : ''}`);
  // run() shuts down gracefully on SIGINT/SIGTERM: in-flight activities finish or are cancelled first.
  await worker.run();
  await connection.close();
  say('redisforge worker: stopped');
}

/**
 * Runs the worker until SIGINT/SIGTERM and gives the exit code: 0 once it stopped, 2 for a
 * configuration to fix (inventory, codec keys, log format), 1 for any other failure.
 */
export async function runWorker(interceptors?: WorkerOptions['interceptors']): Promise<number> {
  try {
    await main(interceptors);
    return 0;
  } catch (err) {
    if (err instanceof InventoryError || err instanceof CodecConfigError || err instanceof LogFormatError || err instanceof MetricsConfigError || err instanceof HostConfigError) {
      console.error(`redisforge worker: ${err.message}`);
      return 2;
    }
    console.error('redisforge worker failed:', err);
    return 1;
  }
}

export function runMain(interceptors?: WorkerOptions['interceptors']): void {
  void runWorker(interceptors).then((code) => process.exit(code));
}
