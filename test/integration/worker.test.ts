/**
 * worker.ts (and `redisforge worker`) as an operator runs it: a bad inventory or log format stops it with what to fix;
 * SIGTERM stops it cleanly; its log tells each workflow's steps, as JSON lines when asked.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { password, testClient, workflowId } from '../harness/cluster';
import { INVENTORY_PATH, ROOT, STATE_DIR, TEMPORAL_ADDRESS } from '../harness/env';
import { startWorker } from '../harness/worker';

test('a bad inventory stops the worker with exit code 2, listing every problem by its path', () => {
  const file = join(STATE_DIR, 'bad-inventory.json');
  writeFileSync(file, JSON.stringify({ clusters: { main: { nodes: ['127.0.0.1:7001', 'nope'], runtime: 'k8s' } }, stores: { s3: { type: 's3' } } }));
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'worker.ts')], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TEMPORAL_ADDRESS, REDISFORGE_INVENTORY: file },
    timeout: 60_000,
  });
  expect(run.status).toBe(2);
  expect(run.stderr).toContain(`inventory ${file} is invalid:`);
  expect(run.stderr).toContain('clusters.main.nodes[1]: expected "host:port"');
  expect(run.stderr).toContain('clusters.main.runtime: no runtime "k8s"');
  expect(run.stderr).toContain('stores.s3.bucket:');
});

test('SIGTERM shuts the worker down gracefully (exit code 0)', async () => {
  const worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: 'redisforge-ops-shutdown-test' }, 'worker-shutdown.log');
  expect(await worker.stop('SIGTERM')).toBe(0);
});

test('REDISFORGE_LOG_FORMAT=json: every line of the worker log is a JSON object, and a workflow logs each step with its ids', async () => {
  const queue = 'redisforge-ops-json-log-test';
  const logName = `worker-json-log-${Date.now()}.log`;
  const worker = await startWorker(password(), { REDISFORGE_TASK_QUEUE: queue, REDISFORGE_LOG_FORMAT: 'json' }, logName);
  try {
    const client = await testClient();
    const id = workflowId('json-log');
    await client.workflow.execute('clusterHealth', { taskQueue: queue, workflowId: id, args: [{ cluster: 'health' }] });
  } finally {
    expect(await worker.stop('SIGTERM')).toBe(0);
  }
  const lines = readFileSync(join(STATE_DIR, logName), 'utf8').split('\n').filter((l) => l.trim() !== '');
  // Node's own warnings go to stderr as they are; everything the worker logs is JSON.
  expect(lines.filter((l) => !l.startsWith('{') && !/^\(node:\d+\)|^\(Use `node --trace/.test(l))).toEqual([]);
  const entries = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; message: string; workflowId?: string; runId?: string });
  const steps = entries.filter((e) => e.workflowId?.includes('json-log') && /^clusterHealth health: step \d+\/\d+ /.test(e.message));
  expect(steps.length).toBeGreaterThan(0);
  expect(steps[0]).toMatchObject({ level: 'INFO', runId: expect.any(String) });
  expect(entries.some((e) => e.workflowId?.includes('json-log') && e.message.startsWith('clusterHealth health: succeeded'))).toBe(true);
});

test('an unknown REDISFORGE_LOG_FORMAT stops the worker with exit code 2 naming the choices', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'worker.ts')], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, TEMPORAL_ADDRESS, REDISFORGE_LOG_FORMAT: 'yaml', REDISFORGE_INVENTORY: INVENTORY_PATH }, timeout: 60_000,
  });
  expect(run.status).toBe(2);
  expect(run.stderr).toContain('REDISFORGE_LOG_FORMAT=yaml is not a log format: use "json"');
});

test('redisforge worker is the same worker: --inventory names the file, a bad one exits 2 with what to fix', () => {
  const file = join(STATE_DIR, 'bad-inventory-cli.json');
  writeFileSync(file, JSON.stringify({ clusters: { main: { nodes: ['127.0.0.1:7001', 'nope'] } } }));
  const run = spawnSync(process.execPath, [join(ROOT, 'bin', 'redisforge.js'), 'worker', '--inventory', file], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, TEMPORAL_ADDRESS, REDISFORGE_INVENTORY: undefined }, timeout: 60_000,
  });
  expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 2, stderr: expect.stringContaining(`inventory ${file} is invalid:`) });
  expect(run.stderr).toContain('clusters.main.nodes[1]: expected "host:port"');
});
