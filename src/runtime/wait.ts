import { createConnection } from 'node:net';
import { splitAddress } from '../cluster/address';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function acceptsConnections(address: string): Promise<boolean> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(1000, () => socket.destroy());
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

/**
 * Polls until the node's port accepts TCP connections. `gaveUp`, asked each round, ends the wait
 * at once with its reason (a container that exited will never answer).
 */
export async function awaitPort(address: string, timeoutMs: number, why: () => string, gaveUp?: () => Promise<string | undefined>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await acceptsConnections(address))) {
    const reason = await gaveUp?.();
    if (reason) throw new Error(reason);
    if (Date.now() > deadline) throw new Error(`${address} does not accept connections after ${timeoutMs} ms; ${why()}`);
    await sleep(50);
  }
}
