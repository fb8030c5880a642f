/**
 * The one polling helper of everything below the workflows (activities, runtimes, test servers).
 * Inside an activity the wait heartbeats its status on a timer and stops at once when the activity
 * is cancelled, even in the middle of a check round (each can be turned off for a wait nested in
 * a step that heartbeats or must finish); outside one (a test, the CLI) it just polls.
 * A round that outlives the deadline (a hung node) ends the wait with the status seen last, rather
 * than an anonymous "activity timed out". Workflows poll with Temporal timers, never with this.
 */
import { asyncLocalStorage, type Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';

export type PollResult<T> = { done: true; value: T } | { done: false; status: string };

/** What a wait saw when it gave up, for the error it fails with. */
export interface WaitOutcome {
  what: string;
  /** The status of the last round that answered. */
  status: string;
  waitedMs: number;
  rounds: number;
  /** A round did not return within the deadline (something it asked hangs). */
  hung: boolean;
}

export interface PollOptions {
  /** What is awaited, for the timeout error, e.g. "all nodes to report cluster_state:ok". */
  what: string;
  timeoutMs: number;
  /** @default 100 */
  intervalMs?: number;
  /**
   * The error a wait that ran out of time fails with.
   * @default a non-retryable WaitTimedOut ApplicationFailure (a retry would wait as long again)
   */
  timedOut?: (outcome: WaitOutcome) => Error;
  /**
   * Whether the activity's cancellation ends the wait. false: for a step that must not be left
   * half-done (a process being stopped, a container being rolled back), it runs to its end.
   * @default true
   */
  cancellable?: boolean;
  /**
   * Whether the wait heartbeats its status. false: for a wait inside a step whose activity
   * heartbeats its own progress (the runtimes' waits), so the activity's heartbeats stay its own
   * and their count (the fault harness stops at the Kth) does not change with a wait's length.
   * @default true
   */
  heartbeat?: boolean;
}

/** How often a long activity heartbeats; well inside every heartbeatTimeout the workflows set (5 s). */
export const HEARTBEAT_EVERY_MS = 1000;

const ROUND_HUNG = Symbol('hung');

/** The non-retryable failure a wait fails with unless its caller names another. */
export function waitTimedOut(outcome: WaitOutcome): ApplicationFailure {
  const why = outcome.hung ? `a check did not return within the deadline (something it asked hangs); last status: ${outcome.status}` : `last status: ${outcome.status}`;
  return ApplicationFailure.create({
    type: 'WaitTimedOut',
    nonRetryable: true,
    message: `timed out after ${Math.round(outcome.waitedMs / 1000)} s waiting for ${outcome.what}; ${why}`,
    details: [{ what: outcome.what, status: outcome.status, waitedMs: outcome.waitedMs, rounds: outcome.rounds }],
  });
}

/** Runs `check` every `intervalMs` until it is done; an error `check` throws ends the wait with it. */
export async function pollUntil<T>(check: () => Promise<PollResult<T>>, options: PollOptions): Promise<T> {
  const activity = asyncLocalStorage.getStore();
  const cancellation = activity && options.cancellable !== false ? activity : undefined;
  const started = Date.now();
  const interval = options.intervalMs ?? 100;
  let status = 'not checked yet';
  let rounds = 0;
  const fail = (hung: boolean) => (options.timedOut ?? waitTimedOut)({ what: options.what, status, waitedMs: Date.now() - started, rounds, hung });
  const beating = activity && options.heartbeat !== false ? activity : undefined;
  const beat = () => beating?.heartbeat({ waitingFor: options.what, status, waitedMs: Date.now() - started });
  beat();
  const timer = beating ? setInterval(beat, HEARTBEAT_EVERY_MS) : undefined;
  try {
    for (;;) {
      const left = options.timeoutMs - (Date.now() - started);
      // A round only reads, so one abandoned at the deadline or on cancellation harms nothing.
      const round = await Promise.race([within(check(), Math.max(left, 0) + 1000, ROUND_HUNG), ...(cancellation ? [cancellation.cancelled] : [])]);
      rounds++;
      if (round === ROUND_HUNG) throw fail(true);
      if (round.done) return round.value;
      status = round.status;
      if (Date.now() - started >= options.timeoutMs) throw fail(false);
      await sleepIn(cancellation, interval);
    }
  } finally {
    clearInterval(timer);
  }
}

/** Waits `ms`; in an activity, its cancellation ends the pause with a CancelledFailure. */
export function pause(ms: number): Promise<void> {
  return sleepIn(asyncLocalStorage.getStore(), ms);
}

function sleepIn(activity: Context | undefined, ms: number): Promise<void> {
  return activity ? activity.sleep(ms) : new Promise((resolve) => setTimeout(resolve, ms));
}

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
