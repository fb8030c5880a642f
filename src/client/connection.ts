/**
 * A Temporal client configured like the Temporal CLI (environment variables and profiles), with
 * the payload codec of REDISFORGE_CODEC_KEYS / REDISFORGE_CODEC_KEYS_FILE: every client made
 * here (CLI, SDK, Schedules, the lock activities) writes and reads the same encrypted payloads.
 */
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { dataConverterFromEnv } from '../codec';

/** The task queue the worker polls: REDISFORGE_TASK_QUEUE, the variable the worker reads, else "redisforge-ops". */
export const TASK_QUEUE = process.env.REDISFORGE_TASK_QUEUE || 'redisforge-ops';

export async function connectClient(overrides: { address?: string; namespace?: string } = {}): Promise<Client> {
  // Bad codec keys fail before a connection is opened, so nothing leaks.
  const dataConverter = dataConverterFromEnv();
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const connection = await Connection.connect({ ...connectionOptions, ...(overrides.address ? { address: overrides.address } : {}) });
  return new Client({ connection, namespace: overrides.namespace ?? namespace ?? 'default', dataConverter });
}
