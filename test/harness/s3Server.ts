/**
 * A real S3 server on this machine for the tests: versitygw (pinned; scripts/setup.sh builds it)
 * serving a local directory, bucket = subdirectory. The store tests and the test run's worker
 * back up to it the same way a worker backs up to AWS. Test-only, so it lives under test/.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createS3Client } from '../../src/storage';
import { stopChild } from '../../src/util/childProcess';
import { pollUntil } from '../../src/util/polling';
import { acceptsConnections } from '../../src/util/ports';

export const VERSITYGW_VERSION = '1.8.0';

/** The versitygw binary scripts/setup.sh built into the cache. */
export function findVersitygw(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.REDISFORGE_CACHE ?? join(homedir(), '.cache', 'redisforge');
  const bin = join(cache, `versitygw-${VERSITYGW_VERSION}`, 'versitygw');
  if (existsSync(bin)) return bin;
  throw new Error(`versitygw ${VERSITYGW_VERSION} is not installed (no ${bin}): run scripts/setup.sh`);
}

export interface S3ServerOptions {
  /** Listens on 127.0.0.1 only. */
  port: number;
  /** Buckets are its subdirectories; created when missing. Needs a filesystem with xattrs. */
  dataDir: string;
  /** The root user's keys: clients sign with these. */
  accessKey: string;
  secretKey: string;
  /** Where the server's output goes. @default ignored */
  logFile?: string;
  /** @default 15000 */
  startTimeoutMs?: number;
}

export interface S3Server {
  /** "http://127.0.0.1:<port>", for stores.<name>.endpoint (with forcePathStyle). */
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
}

const HEALTH_PATH = '/health';

export async function startS3Server(options: S3ServerOptions): Promise<S3Server> {
  const bin = findVersitygw();
  const address = `127.0.0.1:${options.port}`;
  const endpoint = `http://${address}`;
  if (await acceptsConnections(address)) throw new Error(`port ${options.port} is in use: is another S3 server (or test run) using it? Stop it or choose another port`);
  mkdirSync(options.dataDir, { recursive: true });
  const args = ['--port', address, '--health', HEALTH_PATH, '--quiet', 'posix', options.dataDir];
  const out = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
  // Keys through the environment, not argv: ps shows argv to every user.
  const env = { ...process.env, ROOT_ACCESS_KEY_ID: options.accessKey, ROOT_SECRET_ACCESS_KEY: options.secretKey };
  const child = spawn(bin, args, { stdio: ['ignore', out, out], env, detached: false });
  if (typeof out === 'number') closeSync(out);
  let exited: number | null = null;
  child.once('exit', (code, signal) => (exited = code ?? (signal ? -1 : 0)));
  // A crashed or killed test run must not leave the server holding its port.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const logHint = options.logFile ? `; see ${options.logFile}` : '';

  const timeoutMs = options.startTimeoutMs ?? 15_000;
  try {
    await pollUntil(
      async () => {
        if (exited !== null) throw new Error(`versitygw exited with ${exited} before answering on ${address}${logHint}`);
        try {
          const res = await fetch(`${endpoint}${HEALTH_PATH}`);
          await res.arrayBuffer();
          if (res.ok) return { done: true, value: undefined };
          return { done: false, status: `${HEALTH_PATH} answered ${res.status}` };
        } catch {
          return { done: false, status: 'not listening yet' };
        }
      },
      { what: `versitygw on ${endpoint}`, timeoutMs, timedOut: () => new Error(`versitygw did not answer on ${endpoint}${HEALTH_PATH} within ${timeoutMs} ms${logHint}`) },
    );
  } catch (err) {
    if (exited === null) child.kill('SIGKILL');
    process.off('exit', killOnExit);
    throw err;
  }

  return {
    endpoint,
    pid: child.pid!,
    async stop() {
      process.off('exit', killOnExit);
      await stopChild(child, 5_000);
    },
  };
}

/** Creates the bucket; one that exists already and is ours is fine. */
export async function createBucket(
  endpoint: string,
  bucket: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  region = 'us-east-1',
): Promise<void> {
  const client = createS3Client({ endpoint, region, forcePathStyle: true }, { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if ((err as Error).name !== 'BucketAlreadyOwnedByYou') throw new Error(`cannot create bucket "${bucket}" at ${endpoint}: ${(err as Error).message}`, { cause: err });
  } finally {
    client.destroy();
  }
}
