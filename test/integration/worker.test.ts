/** worker.ts as an operator runs it: a bad inventory stops it with every problem; SIGTERM stops it cleanly. */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { password } from '../harness/cluster';
import { ROOT, STATE_DIR, TEMPORAL_ADDRESS } from '../harness/env';
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
