/**
 * The RedisForge Ops worker: runs every runbook workflow and its activities on the task queue
 * `redisforge-ops`. Connection settings come from the Temporal environment variables and
 * profiles (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*, TEMPORAL_API_KEY, ...), as
 * the Temporal CLI reads them; the inventory from REDISFORGE_INVENTORY.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { createActivities } from './src/activities';
import { InventoryError, inventoryPath, loadInventory } from './src/config';

export { TASK_QUEUE } from './src/client/connection';
import { TASK_QUEUE } from './src/client/connection';

async function main(): Promise<void> {
  const file = inventoryPath();
  const inventory = loadInventory(file);
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const connection = await NativeConnection.connect(connectionOptions);
  // A prebuilt bundle (REDISFORGE_WORKFLOW_BUNDLE) spares the tests a bundle per worker start.
  const bundlePath = process.env.REDISFORGE_WORKFLOW_BUNDLE;
  const workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = bundlePath
    ? { workflowBundle: { codePath: bundlePath } }
    : { workflowsPath: require.resolve('./src/workflows') };
  const worker = await Worker.create({
    connection,
    namespace: namespace ?? 'default',
    taskQueue: process.env.REDISFORGE_TASK_QUEUE ?? TASK_QUEUE,
    activities: createActivities(inventory),
    ...workflows,
  });
  // Worker.run() shuts down gracefully on SIGINT/SIGTERM: in-flight activities finish first.
  console.log(`redisforge worker: task queue ${worker.options.taskQueue}, namespace ${worker.options.namespace}, clusters: ${Object.keys(inventory.clusters).join(', ')} (inventory ${file})`);
  await worker.run();
  await connection.close();
}

if (require.main === module) {
  main().catch((err) => {
    if (err instanceof InventoryError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error('redisforge worker failed:', err);
    process.exit(1);
  });
}
