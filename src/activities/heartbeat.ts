/**
 * Heartbeats for every long activity: on a timer, not between steps, so a step that hangs (a node
 * that stopped answering without closing its socket) never starves the heartbeat, and Temporal
 * still tells a dead worker from a slow node within the heartbeat timeout.
 */
import { Context } from '@temporalio/activity';
import { HEARTBEAT_EVERY_MS } from '../util/polling';

/**
 * Runs `work`, heartbeating `details` every second (a function: read anew each time, for
 * progress). `work` gets the activity's cancellation signal: a long step checks it between its own
 * side effects (cancellation is delivered through heartbeats, so it arrives only while they run).
 */
export async function heartbeating<T>(
  details: Record<string, unknown> | (() => Record<string, unknown>),
  work: (cancelled: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctx = Context.current();
  const current = typeof details === 'function' ? details : () => details;
  ctx.heartbeat(current());
  const timer = setInterval(() => ctx.heartbeat(current()), HEARTBEAT_EVERY_MS);
  try {
    return await work(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}

/** Throws the activity's cancellation (a CancelledFailure) if it has been cancelled. */
export function throwIfCancelled(): void {
  const ctx = Context.current();
  if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
}
