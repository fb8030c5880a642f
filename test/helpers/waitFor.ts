/** The one wait of the tests: polls until a condition holds, and fails with what it saw last. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { progressQuery, type Progress } from '../../src/workflows/definitions';

/** Polls `read` (a failed read counts as nothing seen) until `ok` holds; returns what it read. */
export async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    const seen = await read().then((v) => ({ v }), () => undefined);
    if (seen) {
      last = seen.v;
      if (ok(seen.v)) return seen.v;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last saw ${JSON.stringify(last)}`);
}

/** Polls a workflow's progress query until `ok` holds (queries that fail meanwhile, e.g. while Temporal restarts, are retried). */
export function progressReaches(handle: WorkflowHandle, what: string, ok: (p: Progress) => boolean, timeoutMs = 60_000): Promise<Progress> {
  return until(what, () => handle.query(progressQuery), ok, timeoutMs);
}
