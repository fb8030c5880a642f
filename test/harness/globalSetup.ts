/**
 * Once per test run: a real Temporal dev server (the CLI scripts/setup.sh installed) with the
 * RedisCluster and RunbookOperation search attributes, the workflow bundle built once, and the
 * worker as a child process with the test inventory.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer } from '../../src/client/devServer';
import { BUNDLE_PATH, INVENTORY_PATH, ROOT, RUN_INFO_PATH, STATE_DIR, TEMPORAL_ADDRESS, TEMPORAL_PORT, TEMPORAL_UI_PORT, testInventory, type RunInfo } from './env';
import { dockerAvailable, killLeftoverNodes } from './nodes';
import { acceptsConnections } from '../../src/runtime/wait';
import { startWorker } from './worker';
import { join } from 'node:path';

export default async function globalSetup(): Promise<void> {
  // Another run in progress owns the ports and the state folder: leave them alone.
  if (await acceptsConnections(TEMPORAL_ADDRESS)) {
    throw new Error(`${TEMPORAL_ADDRESS} is in use: another test run (or a stale Temporal server) is running; wait for it or stop it`);
  }
  await killLeftoverNodes();
  const docker = await dockerAvailable();
  if (!docker.ok && process.env.CI === 'true') {
    throw new Error(`CI=true and no Docker engine answers (${docker.why}): the docker suites must run in CI. scripts/setup.sh starts dockerd; see ~/.cache/redisforge/dockerd.log`);
  }
  if (!docker.ok) console.warn(`\nNo Docker engine (${docker.why}): the docker suites are skipped (they fail with CI=true).`);
  rmSync(STATE_DIR, { recursive: true, force: true });
  mkdirSync(STATE_DIR, { recursive: true });

  const server = await startDevServer({ port: TEMPORAL_PORT, uiPort: TEMPORAL_UI_PORT, logFile: join(STATE_DIR, 'temporal.log') });
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve(join(ROOT, 'src', 'workflows')), logger: quietLogger });
  writeFileSync(BUNDLE_PATH, code);
  writeFileSync(INVENTORY_PATH, JSON.stringify(testInventory(), null, 2));

  // A fresh secret per run: the history test searches for it.
  const password = `rf-${randomBytes(12).toString('hex')}`;
  const worker = await startWorker(password);
  const info: RunInfo = { password, temporalPid: server.process.pid!, workerPid: worker.child.pid!, dockerAvailable: docker.ok };
  writeFileSync(RUN_INFO_PATH, JSON.stringify(info));
  process.env.REDIS_REQUIREPASS = password;
  process.env.TEMPORAL_ADDRESS = TEMPORAL_ADDRESS;
  // Keep the handles for globalTeardown (same process under --runInBand and in the parent otherwise).
  (globalThis as Record<string, unknown>).__redisforge = { server, worker };
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
