/**
 * A real S3 server on this machine for the tests: versitygw (pinned; scripts/setup.sh builds it)
 * serving a local directory, bucket = subdirectory. The store tests and the test run's worker
 * back up to it the same way a worker backs up to AWS. Test-only, so it lives under test/.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createS3Client } from '../../src/storage';
import { startChildServer } from './childServer';

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
  mkdirSync(options.dataDir, { recursive: true });
  const server = await startChildServer({
    name: 'versitygw',
    command: bin,
    args: ['--port', address, '--health', HEALTH_PATH, '--quiet', 'posix', options.dataDir],
    address,
    logFile: options.logFile,
    // Keys through the environment, not argv: ps shows argv to every user.
    env: { ...process.env, ROOT_ACCESS_KEY_ID: options.accessKey, ROOT_SECRET_ACCESS_KEY: options.secretKey },
    ready: async () => {
      const res = await fetch(`${endpoint}${HEALTH_PATH}`);
      await res.arrayBuffer();
      return res.ok || `${HEALTH_PATH} answered ${res.status}`;
    },
    timeoutMs: options.startTimeoutMs,
  });
  return { endpoint, pid: server.pid, stop: () => server.stop() };
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
