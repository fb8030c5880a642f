/**
 * The messages an operator sends a running operation, as updates with validators: pause, resume,
 * abort and throttle for long operations (RunControls), approve and abort at a destructive step
 * (ApprovalGate). A message that does not apply now is refused with the reason; one that arrives
 * twice does what it did the first time.
 */
import { condition, setHandler } from '@temporalio/workflow';
import { abortUpdate, approveUpdate, pauseUpdate, resumeUpdate, throttleUpdate, type Approval } from '../shared';
import { handlesMessage, type WorkflowsHandling } from './operatorMessages';

/**
 * pause/resume/abort (and throttle, where slots move) between the steps of a long operation; which
 * of them a workflow takes is its row of HANDLED_MESSAGES, the table the SDK reads too.
 */
export class RunControls {
  paused = false;
  aborted: string | undefined;
  maxKeysPerSecond: number | undefined;
  /** Why the controls no longer apply (the operation is past its last safe point). */
  private closedBecause: string | undefined;

  constructor(
    private readonly operation: WorkflowsHandling<'pause'>,
    { maxKeysPerSecond }: { maxKeysPerSecond?: number } = {},
  ) {
    this.maxKeysPerSecond = maxKeysPerSecond;
    setHandler(
      pauseUpdate,
      () => {
        if (this.paused) return `${this.operation} is already paused`;
        this.paused = true;
        return `${this.operation} pauses at its next safe point; send resume to go on`;
      },
      { validator: () => this.refuseWhenClosed('pause') },
    );
    setHandler(
      resumeUpdate,
      () => {
        this.paused = false;
        return `${this.operation} resumed`;
      },
      {
        validator: () => {
          this.refuseWhenClosed('resume');
          if (!this.paused) throw new Error(`${this.operation} is not paused: nothing to resume`);
        },
      },
    );
    setHandler(
      abortUpdate,
      (arg) => {
        if (this.aborted !== undefined) return `${this.operation} is already stopping (${this.aborted})`;
        this.aborted = arg?.reason || 'aborted by the abort update';
        return `${this.operation} stops at its next safe point (${this.aborted})`;
      },
      { validator: (_arg) => this.refuseWhenClosed('abort') },
    );
    if (handlesMessage(operation, 'throttle')) {
      setHandler(
        throttleUpdate,
        ({ maxKeysPerSecond }) => {
          this.maxKeysPerSecond = maxKeysPerSecond || undefined;
          return this.maxKeysPerSecond ? `at most ${this.maxKeysPerSecond} keys per second` : 'no limit on keys per second';
        },
        {
          validator: (arg) => {
            this.refuseWhenClosed('throttle');
            const n = arg?.maxKeysPerSecond;
            if (n !== null && n !== undefined && (!Number.isInteger(n) || n < 0)) {
              throw new Error(`throttle: maxKeysPerSecond must be a whole number of keys per second, or 0 / null for no limit (got ${JSON.stringify(n)})`);
            }
          },
        },
      );
    }
  }

  /** From here on every control is refused with `why` (the operation is finishing). */
  close(why: string): void {
    this.closedBecause = why;
  }

  /** Waits while paused; true when the operation may go on, false when it was aborted. */
  async safePoint(): Promise<boolean> {
    await condition(() => !this.paused || this.aborted !== undefined);
    return this.aborted === undefined;
  }

  private refuseWhenClosed(message: string): void {
    if (this.closedBecause) throw new Error(`${message} does not apply now: ${this.closedBecause}`);
  }
}

export type GateOutcome = { approved: true; approval: Approval } | { approved: false; declined: string };

/**
 * A destructive step waits here for the approve update; abort declines it, and so does silence
 * for `timeoutSeconds` (an approval must not hold the cluster forever).
 */
export class ApprovalGate {
  private waiting = false;
  private outcome: GateOutcome | undefined;

  constructor(private readonly operation: WorkflowsHandling<'approve'>) {
    setHandler(
      approveUpdate,
      (a) => {
        if (this.outcome?.approved) return `already approved by ${this.outcome.approval.by}`;
        this.outcome = { approved: true, approval: { by: a.by.trim(), ...(a.reason ? { reason: a.reason } : {}) } };
        return `approved by ${this.outcome.approval.by}`;
      },
      {
        validator: (a) => {
          if (!a || typeof a.by !== 'string' || !a.by.trim()) throw new Error('approve: "by" must say who approves, e.g. {"by": "alice"}');
          this.refuseUnlessWaiting('approve', a.by);
        },
      },
    );
    setHandler(
      abortUpdate,
      (arg) => {
        if (this.outcome && !this.outcome.approved) return `already declined (${this.outcome.declined})`;
        this.outcome = { approved: false, declined: arg?.reason || 'declined by the abort update' };
        return `declined: ${this.outcome.declined}`;
      },
      { validator: (_arg) => this.refuseUnlessWaiting('abort') },
    );
  }

  /** Waits for a decision; `preApproved` is the input's `approve: true`. */
  async decide({ preApproved, timeoutSeconds }: { preApproved: boolean; timeoutSeconds: number }): Promise<GateOutcome> {
    if (preApproved) this.outcome = { approved: true, approval: { by: 'input approve: true' } };
    if (!this.outcome) {
      this.waiting = true;
      const decided = await condition(() => this.outcome !== undefined, timeoutSeconds * 1000);
      this.waiting = false;
      if (!decided) this.outcome = { approved: false, declined: `no approval within ${formatSeconds(timeoutSeconds)} (approvalTimeoutSeconds)` };
    }
    return this.outcome!;
  }

  private refuseUnlessWaiting(message: string, by?: string): void {
    if (this.waiting) return;
    const o = this.outcome;
    // The same approval sent twice (a client retry) is answered, not refused.
    if (message === 'approve' && o?.approved && o.approval.by === by?.trim()) return;
    if (message === 'abort' && o && !o.approved) return;
    const why = o?.approved
      ? `${this.operation} was approved by ${o.approval.by} and has gone on; to stop it now, cancel the workflow`
      : o
        ? `${this.operation} declined the step (${o.declined})`
        : `${this.operation} is not waiting for an approval now`;
    throw new Error(`${message} does not apply now: ${why}`);
  }
}

function formatSeconds(s: number): string {
  return s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`;
}
