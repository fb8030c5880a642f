/**
 * The one waiting helper: activities that wait on Redis poll here, heartbeating every round
 * so Temporal notices a dead worker, and stop at once when the activity is cancelled.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';

export type PollResult<T> = { done: true; value: T } | { done: false; status: string };

export interface PollOptions {
  /** What is awaited, for the timeout error, e.g. "all nodes to report cluster_state:ok". */
  what: string;
  timeoutMs: number;
  /** @default 100 */
  intervalMs?: number;
}

export async function pollUntil<T>(check: () => Promise<PollResult<T>>, options: PollOptions): Promise<T> {
  const ctx = Context.current();
  const started = Date.now();
  const interval = options.intervalMs ?? 100;
  let status = 'not checked yet';
  for (;;) {
    const result = await check();
    if (result.done) return result.value;
    status = result.status;
    const waited = Date.now() - started;
    ctx.heartbeat({ waitingFor: options.what, status, waitedMs: waited });
    if (waited >= options.timeoutMs) {
      throw ApplicationFailure.create({
        type: 'WaitTimedOut',
        nonRetryable: true,
        message: `timed out after ${Math.round(waited / 1000)} s waiting for ${options.what}; last status: ${status}`,
        details: [{ what: options.what, status, waitedMs: waited }],
      });
    }
    await ctx.sleep(interval);
  }
}
