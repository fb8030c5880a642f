/** Heartbeats for activity steps that do not poll, such as a container being stopped and recreated. */
import { Context } from '@temporalio/activity';

/**
 * Runs `work`, heartbeating `details` every second (a function: read anew each time, for
 * progress), so Temporal notices at once if the worker died meanwhile.
 */
export async function heartbeating<T>(details: Record<string, unknown> | (() => Record<string, unknown>), work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const current = typeof details === 'function' ? details : () => details;
  ctx.heartbeat(current());
  const timer = setInterval(() => ctx.heartbeat(current()), 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
