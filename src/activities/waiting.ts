/**
 * The one waiting helper: activities that wait on Redis poll here. Heartbeats run on a timer (see
 * heartbeating), the wait stops at once when the activity is cancelled, even in the middle of a
 * check round, and a round that outlives the deadline (a hung node) ends the wait with the status
 * seen last, rather than an anonymous "activity timed out".
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { heartbeating } from './heartbeat';

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
  let rounds = 0;
  const timedOut = (why: string) => {
    const waited = Date.now() - started;
    return ApplicationFailure.create({
      type: 'WaitTimedOut',
      nonRetryable: true,
      message: `timed out after ${Math.round(waited / 1000)} s waiting for ${options.what}; ${why}`,
      details: [{ what: options.what, status, waitedMs: waited, rounds }],
    });
  };
  return heartbeating(
    () => ({ waitingFor: options.what, status, waitedMs: Date.now() - started }),
    async () => {
      for (;;) {
        const left = options.timeoutMs - (Date.now() - started);
        // A round only reads, so one abandoned at the deadline or on cancellation harms nothing.
        const round = await Promise.race([within(check(), Math.max(left, 0) + 1000, ROUND_HUNG), ctx.cancelled]);
        rounds++;
        if (round === ROUND_HUNG) {
          throw timedOut(`a check did not return within the deadline (something it asked hangs); last status: ${status}`);
        }
        if (round.done) return round.value;
        status = round.status;
        if (Date.now() - started >= options.timeoutMs) throw timedOut(`last status: ${status}`);
        await ctx.sleep(interval);
      }
    },
  );
}

const ROUND_HUNG = Symbol('hung');

/**
 * What `work` gives, or `late` once `ms` have passed. The work is not stopped, only no longer
 * awaited (its failure is then ignored): for reads that a hung node could stall.
 */
export async function within<T, L>(work: Promise<T>, ms: number, late: L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<L>((resolve) => (timer = setTimeout(() => resolve(late), ms)));
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}
