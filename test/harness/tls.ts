/**
 * The run's TLS clusters: a CA, node and client certificates made with openssl in globalSetup,
 * and the inventory entries of the clusters that use them.
 */
import { join } from 'node:path';
import { STATE_DIR } from './env';

/** Where the certificates are (a function: env.ts imports this module, so STATE_DIR is read late). */
export function tlsDir(): string {
  return join(STATE_DIR, 'tls');
}

/** Makes the CA and the certificates under tlsDir() (globalSetup, before the worker starts). */
export async function prepareTls(): Promise<void> {
  // TODO(tls)
}

/** Inventory entries (clusters and runtimes) of the TLS clusters; ports 21301-21330. */
export function tlsInventory(): { clusters: Record<string, unknown>; runtimes: Record<string, unknown> } {
  return { clusters: {}, runtimes: {} };
}
