/**
 * The redisforge CLI and the SDK example against the test run's Temporal server and worker, on
 * the `health` cluster: health as JSON, list, status, workflow-side bad input, and an approval
 * through the CLI (a restore of the cluster's own backup, waiting at its approval step, watched
 * on a non-terminal). The cluster is healthy again at the end.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestCluster } from '../harness/cluster';
import { STATE_DIR, TEMPORAL_ADDRESS } from '../harness/env';
import { redisforge, ROOT, spawnRedisforge, type CliRun } from '../cli/redisforge';
import { eventually } from '../helpers/waitFor';

const env = { TEMPORAL_ADDRESS };
const cli = (...args: string[]) => redisforge(args, env);
const json = <T = Record<string, unknown>>(run: CliRun): T => JSON.parse(run.stdout) as T;

let cluster: TestCluster;
let healthId: string;

beforeAll(async () => {
  cluster = await TestCluster.start('health');
});
afterAll(async () => {
  await cluster?.destroy();
});

test('health --json: one JSON document on stdout, healthy, exit 0; a workflow id <type>-<cluster>-<time>', async () => {
  const run = await cli('health', '--cluster', 'health', '--json');
  expect(run.code).toBe(0);
  const out = json<{ workflowId: string; type: string; status: string; result: { healthy: boolean; summary: { masters: number } } }>(run);
  expect(out).toMatchObject({ type: 'clusterHealth', status: 'succeeded', result: { healthy: true, summary: { masters: 3 } } });
  expect(out.workflowId).toMatch(/^clusterHealth-health-\d{8}T\d{9}Z$/);
  healthId = out.workflowId;
});

test('without --cluster or REDISFORGE_CLUSTER, the inventory\'s only cluster is the default', async () => {
  const file = join(STATE_DIR, 'one-cluster-inventory.json');
  writeFileSync(file, JSON.stringify({ clusters: { health: { nodes: cluster.nodes } } }));
  const run = await redisforge(['health', '--json'], { ...env, REDISFORGE_INVENTORY: file });
  expect({ code: run.code, cluster: json<{ result: { cluster: string } }>(run).result.cluster }).toEqual({ code: 0, cluster: 'health' });
});

test('a bad input the workflow finds (an unknown cluster) exits 2 with its message', async () => {
  const run = await cli('health', '--cluster', 'no-such-cluster');
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/failed \(InvalidInput\): cluster: unknown cluster "no-such-cluster"; the worker's inventory has: .*health/);
});

test('status exits by how the run ended: 1 for a failed run, with its failure', async () => {
  const run = await cli('health', '--cluster', 'no-such-cluster', '--json');
  const { workflowId } = json<{ workflowId: string }>(run);
  const status = await cli('status', workflowId);
  expect(status.code).toBe(1);
  expect(status.stdout).toMatch(/status: {2}FAILED/);
  expect(status.stdout).toContain('failure: InvalidInput: cluster: unknown cluster "no-such-cluster"');
  const asJson = await cli('status', workflowId, '--json');
  expect([asJson.code, json<{ status: string; failure: { type: string } }>(asJson)]).toMatchObject([1, { status: 'FAILED', failure: { type: 'InvalidInput' } }]);
});

test('list --cluster health --json has the health run; status shows it completed with its report', async () => {
  // Visibility is eventually consistent: the run shows up within moments.
  const listed = async () => {
    const run = await cli('list', '--cluster', 'health', '--json');
    expect(run.code).toBe(0);
    return json<{ workflowId: string; operation: string; cluster: string; status: string }[]>(run);
  };
  const runs = await eventually('the health run in `list`', listed, (rs) => rs.some((r) => r.workflowId === healthId), { timeoutMs: 90_000, everyMs: 200, fatal: () => true });
  expect(runs.find((r) => r.workflowId === healthId)).toMatchObject({ operation: 'clusterHealth', cluster: 'health', status: 'COMPLETED' });
  expect(runs.every((r) => r.cluster === 'health')).toBe(true);

  const status = await cli('status', healthId);
  expect(status.code).toBe(0);
  expect(status.stdout).toContain('clusterHealth on cluster health');
  expect(status.stdout).toMatch(/status: {2}COMPLETED/);
  expect(status.stdout).toContain('Cluster health: HEALTHY');

  const pause = await cli('pause', healthId);
  expect(pause.code).toBe(1);
  expect(pause.stderr).toMatch(/is completed: there is nothing to pause/);
});

test('a long procedure refused by its own checks fails the command that started it, with the failure and its exit code', async () => {
  // Before, this printed "started" and exited 0; the workflow failed 112 ms later.
  const run = await cli('restore', 'not-an-id', '--cluster', 'health', '--store', 'local');
  expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 1, stdout: '' });
  expect(run.stderr).toMatch(/^redisforge restore: restoreCluster-health-\S+ failed \(PreflightFailed\): backupId: no backup not-an-id of cluster health in /);
  expect(run.stderr).toContain('-> fix what the preflight found, then start again');
});

test('restore waits for approval: watch prints progress lines, approve unblocks it, the cluster ends healthy', async () => {
  const backup = await cli('backup', '--cluster', 'health', '--store', 'local', '--json');
  expect(backup.code).toBe(0);
  const { backupId } = json<{ result: { backupId: string } }>(backup).result;

  // A long procedure: started, its id printed once its checks passed (it waits for approval now), not followed.
  const restore = await cli('restore', backupId, '--cluster', 'health', '--store', 'local', '--json');
  expect(restore.code).toBe(0);
  const { workflowId, status, checked, progress } = json<{ workflowId: string; status: string; checked: boolean; progress: { step: string } }>(restore);
  expect({ status, checked, step: progress.step }).toEqual({ status: 'started', checked: true, step: 'Wait for approval' });

  const watch = spawnRedisforge(['watch', workflowId], env);
  // The hint is the gate's last line: waiting for it, not for the word, sees the whole gate.
  await eventually('watch to print the approval gate', () => watch.output(), (out) => out.includes('-> waiting for approval'), { timeoutMs: 60_000, everyMs: 100 });
  expect(watch.output()).toMatch(/restoreCluster health: step 3\/9 Wait for approval - approval needed: every node of health will be stopped/);
  expect(watch.output()).toContain(`-> waiting for approval: redisforge approve ${workflowId}`);

  const waiting = await cli('status', workflowId);
  expect(waiting.stdout).toMatch(/status: {2}RUNNING/);
  expect(waiting.stdout).toContain('Wait for approval');

  const approve = await cli('approve', workflowId, '--by', 'cli-test', '--reason', 'restore drill');
  expect(approve.stderr).toBe('');
  expect(approve.code).toBe(0);
  expect(approve.stdout).toContain(`${workflowId}: approved by cli-test`);

  const watched = await watch.exited;
  expect(watched.code).toBe(0);
  // Plain lines, one per step, no terminal control characters.
  expect(watched.stdout).not.toContain('\x1b');
  expect(watched.stdout).toMatch(/restoreCluster health: step 1\/9 Check the backup|restoreCluster health: step 3\/9/);
  expect(watched.stdout).toMatch(new RegExp(`Backup ${backupId} \\(of health, taken .*\\) restored into health in .*, approved by cli-test`));

  const done = json<{ status: string; result: { approval: { by: string; reason: string } } }>(await cli('status', workflowId, '--json'));
  expect(done).toMatchObject({ status: 'COMPLETED', result: { approval: { by: 'cli-test', reason: 'restore drill' } } });
  expect((await cluster.healthUntil((r) => r.healthy, 60_000)).healthy).toBe(true);
});

test('the SDK example runs: health of the cluster named on its command line, a dry-run rebalance with progress and result', async () => {
  const run = await new Promise<CliRun>((resolve) =>
    execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'examples', 'sdk-example.ts'), 'health'], { cwd: ROOT, env: { ...process.env, TEMPORAL_ADDRESS } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    ),
  );
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^cluster health: healthy, 3 masters, 16384\/16384 slots served\nstarted rebalance-health-\d{8}T\d{9}Z\n( {2}progress: step \d\/5 .*\n)* {2}progress: step 5\/5 succeeded \(succeeded\)\ndry run: 0 slots would move in 0 moves\n$/);
});
