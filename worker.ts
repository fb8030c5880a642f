/**
 * The RedisForge Ops worker: runs every runbook workflow and its activities on the task queue
 * `redisforge-ops`. Connection settings come from the Temporal environment variables and
 * profiles (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*, TEMPORAL_API_KEY, ...), as
 * the Temporal CLI reads them; the inventory from REDISFORGE_INVENTORY (default ./redisforge.json);
 * the payload encryption keys from REDISFORGE_CODEC_KEYS or REDISFORGE_CODEC_KEYS_FILE; the log
 * format from REDISFORGE_LOG_FORMAT (text, or json: one object per line).
 */
import { Client } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { createActivities } from './src/activities';
import { taskQueueFromEnv } from './src/shared';
import { CodecConfigError, codecFromEnv, describeCodec, type EncryptionCodec } from './src/codec';
import { InventoryError, inventoryPath, loadInventory, type Inventory } from './src/config';
import { jsonLogLine, logFormatFromEnv, LogFormatError, workerLogger } from './src/logging';

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
  /** A prebuilt workflow bundle; by default the workflows are bundled at start. */
  workflowBundlePath?: string;
  env?: NodeJS.ProcessEnv;
  /** Worker interceptors (the test harness injects faults through them). */
  interceptors?: WorkerOptions['interceptors'];
  /** The payload codec; clients must use the same keys. @default the keys of `env` (plain payloads without any) */
  codec?: EncryptionCodec;
}

export function createWorker(options: RedisForgeWorkerOptions): Promise<Worker> {
  const workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = options.workflowBundlePath
    ? { workflowBundle: { codePath: options.workflowBundlePath } }
    : { workflowsPath: require.resolve('./src/workflows') };
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

/** Runs the worker from its environment until SIGINT/SIGTERM. */
export async function main(interceptors?: WorkerOptions['interceptors']): Promise<void> {
  const file = inventoryPath();
  const inventory = loadInventory(file);
  const codec = codecFromEnv();
  // Before any connection: the runtime takes its logger once, at its creation.
  const format = logFormatFromEnv();
  Runtime.install({ logger: workerLogger(format) });
  // The worker's own lines (stdout) in the same format as its log.
  const say = (message: string) => console.log(format === 'json' ? jsonLogLine({ level: 'INFO', message, timestampNanos: BigInt(Date.now()) * 1_000_000n }) : message);
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const connection = await NativeConnection.connect(connectionOptions);
  const worker = await createWorker({
    inventory,
    connection,
    namespace,
    taskQueue: process.env.REDISFORGE_TASK_QUEUE,
    lockTaskQueue: process.env.REDISFORGE_LOCK_TASK_QUEUE,
    // A prebuilt bundle spares the tests a bundle per worker start.
    workflowBundlePath: process.env.REDISFORGE_WORKFLOW_BUNDLE,
    interceptors,
    codec,
  });
  say(
    `redisforge worker: task queue ${worker.options.taskQueue}, namespace ${worker.options.namespace}, ` +
      `clusters: ${Object.keys(inventory.clusters).join(', ')} (inventory ${file}); ${describeCodec(codec)}`,
  );
  // run() shuts down gracefully on SIGINT/SIGTERM: in-flight activities finish or are cancelled first.
  await worker.run();
  await connection.close();
  say('redisforge worker: stopped');
}

export function runMain(interceptors?: WorkerOptions['interceptors']): void {
  main(interceptors).catch((err) => {
    if (err instanceof InventoryError || err instanceof CodecConfigError || err instanceof LogFormatError) {
      console.error(`redisforge worker: ${err.message}`);
      process.exit(2);
    }
    console.error('redisforge worker failed:', err);
    process.exit(1);
  });
}

if (require.main === module) runMain();
