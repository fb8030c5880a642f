/**
 * Once per test run: a real Temporal dev server (the CLI scripts/setup.sh installed) with the
 * RedisCluster and RunbookOperation search attributes, the workflow bundle built once, and the
 * worker as a child process with the test inventory. Payloads are encrypted with a key made
 * for the run; the Web UI decodes them through the codec server started here.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer } from '../../src/client/devServer';
import { KEYS_ENV, KEYS_FILE_ENV, startCodecServer } from '../../src/codec';
import { createBucket, findVersitygw, startS3Server, type S3Server } from './s3Server';
import {
  BUNDLE_PATH, INVENTORY_PATH, ROOT, RUN_INFO_PATH, S3_ACCESS_KEY, S3_BUCKET, S3_ENDPOINT, S3_PORT, S3_SECRET_KEY, SCRATCH_DIR, STATE_DIR,
  TEMPORAL_ADDRESS, TEMPORAL_PORT, TEMPORAL_UI_PORT, testInventory, WORKER_METRICS_ADDRESS,
} from './env';
import { dockerAvailable, killLeftoverNodes } from './nodes';
import { acceptsConnections } from '../../src/util/ports';
import { startWorker } from './worker';
import { join } from 'node:path';
import { prepareTls } from './tls';
import { CODEC_PORT, CODEC_URL, newRunCodecKey, runCodec, UI_ORIGIN, type RunInfoWithCodec } from './codec';

export default async function globalSetup(): Promise<void> {
  // The pinned AWS SDK works on Node 20; its notice about later releases is not a test's business.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  // Another run in progress owns the ports and the state folder: leave them alone.
  if (await acceptsConnections(TEMPORAL_ADDRESS)) {
    throw new Error(`${TEMPORAL_ADDRESS} is in use: another test run (or a stale Temporal server) is running; wait for it or stop it`);
  }
  await killLeftoverNodes();
  await killLeftoverNodes(SCRATCH_DIR);
  const docker = await dockerAvailable();
  if (!docker.ok && process.env.CI === 'true') {
    throw new Error(`CI=true and no Docker engine answers (${docker.why}): the docker suites must run in CI. scripts/setup.sh starts dockerd; see ~/.cache/redisforge/dockerd.log`);
  }
  if (!docker.ok) console.warn(`\nNo Docker engine (${docker.why}): the docker suites are skipped (they fail with CI=true).`);
  rmSync(STATE_DIR, { recursive: true, force: true });
  mkdirSync(STATE_DIR, { recursive: true });

  const s3 = await startS3();
  // A fresh key per run: the codec test looks for what it must hide.
  const codecKey = newRunCodecKey();
  process.env[KEYS_ENV] = codecKey;
  delete process.env[KEYS_FILE_ENV];
  const codecServer = await startCodecServer({ codec: runCodec(), port: CODEC_PORT, origins: [UI_ORIGIN], log: (line) => console.warn(line) });
  const server = await startDevServer({ port: TEMPORAL_PORT, uiPort: TEMPORAL_UI_PORT, logFile: join(STATE_DIR, 'temporal.log'), codecEndpoint: CODEC_URL }).catch(async (err: unknown) => {
    // No teardown runs after a failed setup: an open codec server would hold jest.
    await codecServer.stop();
    throw err;
  });
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve(join(ROOT, 'src', 'workflows')), logger: quietLogger });
  writeFileSync(BUNDLE_PATH, code);
  await prepareTls();
  writeFileSync(INVENTORY_PATH, JSON.stringify(testInventory(), null, 2));

  // A fresh secret per run: the history test searches for it.
  const password = `rf-${randomBytes(12).toString('hex')}`;
  // The run's worker serves its metrics for Prometheus (test/integration/metrics.test.ts); a test's own workers do not.
  const worker = await startWorker(password, { ...(s3 ? S3_ENV : {}), REDISFORGE_METRICS_ADDRESS: WORKER_METRICS_ADDRESS });
  const info: RunInfoWithCodec = {
    password, temporalPid: server.process.pid!, workerPid: worker.child.pid!, dockerAvailable: docker.ok, s3Available: s3 !== undefined, codecKey,
  };
  writeFileSync(RUN_INFO_PATH, JSON.stringify(info), { mode: 0o600 });
  process.env.REDIS_REQUIREPASS = password;
  process.env.TEMPORAL_ADDRESS = TEMPORAL_ADDRESS;
  // Keep the handles for globalTeardown (same process under --runInBand and in the parent otherwise).
  Object.assign(process.env, S3_ENV);
  (globalThis as Record<string, unknown>).__redisforge = { server, worker, s3, codecServer };
}

/** Test-only keys of the run's S3 server, for the worker and the tests (the AWS SDK reads them). */
const S3_ENV = {
  AWS_ACCESS_KEY_ID: S3_ACCESS_KEY,
  AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY,
  REDISFORGE_SCRATCH_DIR: SCRATCH_DIR,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/** versitygw on 127.0.0.1 with the test bucket; missing binary: fail with CI=true, else skip the S3 suites. */
async function startS3(): Promise<S3Server | undefined> {
  try {
    findVersitygw();
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`CI=true and no S3 server: ${(err as Error).message}`);
    console.warn(`\n${(err as Error).message}: the S3 suites are skipped (they fail with CI=true).`);
    return undefined;
  }
  const s3 = await startS3Server({ port: S3_PORT, dataDir: join(STATE_DIR, 's3'), accessKey: S3_ACCESS_KEY, secretKey: S3_SECRET_KEY, logFile: join(STATE_DIR, 's3.log') });
  await createBucket(S3_ENDPOINT, S3_BUCKET, { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY });
  return s3;
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
