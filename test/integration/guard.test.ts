/**
 * One mutating operation at a time per cluster, however each was started: a restore waiting
 * for its approval holds the cluster; a rebalance from the Temporal CLI and an addNode from the
 * SDK are refused naming it; a health check and a dry run are not blocked. Cancelled, the
 * restore gives the cluster back; terminated (no chance to release), its hold is stale and the
 * next operation takes over.
 */
import { execFile } from 'node:child_process';
import { findTemporalCli } from '../../src/client/devServer';
import type { BackupReport } from '../../src/workflows/backupCluster';
import { abortUpdate, lockHolderQuery, lockWorkflowId, progressQuery } from '../../src/shared';
import type { RebalanceReport } from '../../src/workflows/rebalance';
import type { RestoreReport } from '../../src/workflows/restoreCluster';
import { runWorkflow, runWorkflowFailure, TestCluster, testClient, workflowId } from '../harness/cluster';
import { TASK_QUEUE, TEMPORAL_ADDRESS } from '../harness/env';
import { progressReaches } from '../helpers/waitFor';

let cluster: TestCluster;
let backupId: string;

beforeAll(async () => {
  cluster = await TestCluster.start('guard');
  backupId = (await runWorkflow<BackupReport>('backupCluster', { cluster: 'guard', store: 'local' })).backupId;
});
afterAll(async () => {
  await cluster?.destroy();
});

/** A restore that waits for its approval: it holds the cluster until it ends. */
async function holdingRestore() {
  const client = await testClient();
  const handle = await client.workflow.start('restoreCluster', {
    taskQueue: TASK_QUEUE, workflowId: workflowId('guard-holder'), args: [{ cluster: 'guard', backupId, store: 'local' }],
  });
  await progressReaches(handle, 'the restore to wait for approval', (p) => p.step === 'Wait for approval', 20_000);
  expect((await handle.query(progressQuery)).step).toBe('Wait for approval');
  return handle;
}

test('a second mutating operation is refused, by CLI or SDK, naming the running one; checks and dry runs are not', async () => {
  const holder = await holdingRestore();
  const client = await testClient();
  expect(await client.workflow.getHandle(lockWorkflowId('guard')).query(lockHolderQuery)).toMatchObject({ workflowId: holder.workflowId, operation: 'restoreCluster' });

  const cli = await exec(findTemporalCli(), [
    'workflow', 'execute', '--type', 'rebalance', '--task-queue', TASK_QUEUE, '--input', '{"cluster":"guard"}',
    '--workflow-id', workflowId('guard-cli'), '--address', TEMPORAL_ADDRESS, '--namespace', 'default',
  ]);
  expect(cli.code).not.toBe(0);
  expect(cli.output).toContain(`cluster guard is busy: restoreCluster (workflow ${holder.workflowId})`);

  const sdk = await runWorkflowFailure('addNode', { cluster: 'guard', address: '127.0.0.1:21127', role: 'replica' });
  expect(sdk.type).toBe('ClusterBusy');
  expect(sdk.message).toContain(holder.workflowId);

  expect((await cluster.health()).healthy).toBe(true);
  const dry = await runWorkflow<RestoreReport>('restoreCluster', { cluster: 'guard', backupId, store: 'local', dryRun: true });
  expect(dry.dryRun).toBe(true);

  // Cancelled, the holder gives the cluster back: the next operation runs.
  await holder.cancel();
  await expect(holder.result()).rejects.toThrow();
  const rebalance = await runWorkflow<RebalanceReport>('rebalance', { cluster: 'guard' });
  expect(rebalance.aborted).toBeUndefined();
});

test('a holder terminated without releasing is stale: the next operation takes the cluster over', async () => {
  const holder = await holdingRestore();
  await holder.terminate('operator stopped it the hard way');
  const report = await runWorkflow<BackupReport>('backupCluster', { cluster: 'guard', store: 'local' });
  expect(report.keys).toBe(0);
});

function exec(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}\n${stderr}` })),
  );
}

test('the abort signal at the approval gate declines the restore: nothing touched, the cluster free again', async () => {
  const holder = await holdingRestore();
  await holder.executeUpdate(abortUpdate, { args: [{ reason: 'wrong backup' }] });
  const failure = await holder.result().then(() => undefined, (e: Error) => e.cause as Error & { type?: string });
  expect(failure?.type).toBe('Declined');
  expect(failure?.message).toContain('declined (wrong backup); no node was touched');
  for (const node of cluster.nodes) expect(await cluster.runtime.status(node)).toBe('running');
  const report = await runWorkflow<BackupReport>('backupCluster', { cluster: 'guard', store: 'local' });
  expect(report.shards).toHaveLength(3);
});
