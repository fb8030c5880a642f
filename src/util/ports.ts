/**
 * TCP port probes. The runtimes, the client's dev server and the test servers all ask "does
 * anything listen there yet": this module sits below them all, so none reaches into another.
 */
import { createConnection } from 'node:net';
import { splitAddress } from '../cluster/address';
import { pollUntil } from './polling';

/** Whether `host:port` accepts a TCP connection within a second. */
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

export interface AwaitPortOptions {
  /** Asked each round: a reason ends the wait at once (a container that exited will never answer). */
  gaveUp?: () => Promise<string | undefined>;
  /** See PollOptions.cancellable. @default true */
  cancellable?: boolean;
}

/**
 * Polls until the port accepts TCP connections; `hint` says where to look when it never does
 * ("see docker logs NAME"). It fails with a plain (retryable) Error: a node slow to listen may
 * well listen on the next attempt. It does not heartbeat: the runtimes wait here inside
 * activities that heartbeat their own progress.
 */
export async function awaitPort(address: string, timeoutMs: number, hint: () => string, options: AwaitPortOptions = {}): Promise<void> {
  await pollUntil(
    async () => {
      if (await acceptsConnections(address)) return { done: true, value: undefined };
      const reason = await options.gaveUp?.();
      if (reason) throw new Error(reason);
      return { done: false, status: 'not listening' };
    },
    {
      what: `${address} to accept connections`,
      timeoutMs,
      intervalMs: 50,
      cancellable: options.cancellable,
      heartbeat: false,
      timedOut: () => new Error(`${address} does not accept connections after ${timeoutMs} ms; ${hint()}`),
    },
  );
}
