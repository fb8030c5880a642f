/**
 * A Temporal client configured like the Temporal CLI (environment variables and profiles), with
 * the payload codec of REDISFORGE_CODEC_KEYS / REDISFORGE_CODEC_KEYS_FILE: every client made
 * here (CLI, SDK, Schedules) writes and reads the same encrypted payloads.
 */
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { dataConverterFromEnv } from '../codec';
import { taskQueueFromEnv } from '../shared';

/** Where this process's clients start workflows: the queue the worker polls (see taskQueueFromEnv). */
export const TASK_QUEUE = taskQueueFromEnv(process.env);

/** How long a client waits for Temporal to answer before it says it cannot reach it. */
export const CONNECT_TIMEOUT_MS = 2_000;

export async function connectClient(overrides: { address?: string; namespace?: string } = {}): Promise<Client> {
  // Bad codec keys fail before a connection is opened, so nothing leaks.
  const dataConverter = dataConverterFromEnv();
  const { connectionOptions, namespace } = loadClientConnectConfig();
  // A Temporal that does not answer is reported in seconds, not after the SDK's default 10 s.
  const connection = await Connection.connect({ ...connectionOptions, connectTimeout: CONNECT_TIMEOUT_MS, ...(overrides.address ? { address: overrides.address } : {}) });
  return new Client({ connection, namespace: overrides.namespace ?? namespace ?? 'default', dataConverter });
}
