/** A Temporal client configured like the Temporal CLI: environment variables and profiles. */
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';

/** The task queue the worker polls: REDISFORGE_TASK_QUEUE, the variable the worker reads, else "redisforge-ops". */
export const TASK_QUEUE = process.env.REDISFORGE_TASK_QUEUE || 'redisforge-ops';

export async function connectClient(overrides: { address?: string; namespace?: string } = {}): Promise<Client> {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const connection = await Connection.connect({ ...connectionOptions, ...(overrides.address ? { address: overrides.address } : {}) });
  return new Client({ connection, namespace: overrides.namespace ?? namespace ?? 'default' });
}
