/**
 * The embedded Temporal dev server (`temporal server start-dev`) that `npm run demo` and the
 * tests use, with the search attributes every workflow sets.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { stopChild } from '../util/childProcess';
import { pollUntil } from '../util/polling';
import { acceptsConnections } from '../util/ports';

export const TEMPORAL_CLI_VERSION = '1.5.1';
export const SEARCH_ATTRIBUTES = { RedisCluster: 'Keyword', RunbookOperation: 'Keyword' } as const;

/** The CLI scripts/setup.sh installed: TEMPORAL_CLI, the pinned cache, or `temporal` on PATH. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.REDISFORGE_CACHE ?? join(homedir(), '.cache', 'redisforge');
  const candidates = [env.TEMPORAL_CLI, join(cache, `temporal-${TEMPORAL_CLI_VERSION}`, 'temporal')].filter((c): c is string => !!c);
  for (const c of candidates) if (existsSync(c)) return c;
  const which = spawnSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error('the Temporal CLI is not installed: run scripts/setup.sh (or set TEMPORAL_CLI to its path)');
}

export interface DevServerOptions {
  /** @default 7233 */
  port?: number;
  /** @default port + 1000 */
  uiPort?: number;
  /** Disable the Web UI. @default false */
  headless?: boolean;
  /** SQLite file to persist to; in memory when absent. */
  dbFile?: string;
  /** Where the server's output goes. @default ignored */
  logFile?: string;
  /** @default 60000 */
  startTimeoutMs?: number;
  /** The codec server the Web UI decodes payloads through (`redisforge codec-server`); none when absent. */
  codecEndpoint?: string;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? port + 1000;
  if (await acceptsConnections(`127.0.0.1:${port}`)) throw new Error(`port ${port} is in use: is another Temporal server running? Stop it or choose another port`);
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--http-port', String(port + 10),
    '--metrics-port', String(port + 20),
    '--log-level', 'error',
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([k, v]) => ['--search-attribute', `${k}=${v}`]),
    ...(options.headless ? ['--headless'] : ['--ui-ip', '127.0.0.1', '--ui-port', String(uiPort)]),
    ...(options.dbFile ? ['--db-filename', options.dbFile] : []),
    ...(options.codecEndpoint && !options.headless ? ['--ui-codec-endpoint', options.codecEndpoint] : []),
  ];
  const out = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
  const child = spawn(findTemporalCli(), args, { stdio: ['ignore', out, out], detached: false });
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));

  const address = `127.0.0.1:${port}`;
  try {
    await pollUntil(
      async () => {
        if (exited !== null) throw new Error(`the Temporal dev server exited with ${exited}${options.logFile ? `; see ${options.logFile}` : ''}`);
        return (await serves(address)) ? { done: true, value: undefined } : { done: false, status: 'not serving yet' };
      },
      { what: `the Temporal dev server on ${address}`, timeoutMs: options.startTimeoutMs ?? 60_000, intervalMs: 200, timedOut: () => new Error(`the Temporal dev server did not answer on ${address}`) },
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  return {
    address: `127.0.0.1:${port}`,
    uiUrl: options.headless ? undefined : `http://127.0.0.1:${uiPort}`,
    process: child,
    stop: () => stopChild(child, 10_000),
  };
}

/** Whether a Temporal frontend answers its health check on `address`. */
async function serves(address: string): Promise<boolean> {
  if (!(await acceptsConnections(address))) return false;
  try {
    const conn = await Connection.connect({ address, connectTimeout: 2000 });
    await conn.healthService.check({});
    await conn.close();
    return true;
  } catch {
    return false; // not serving yet
  }
}
