/** The one wait of the tests: polls until a condition holds, and fails with what it saw last. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { progressQuery, type Progress } from '../../src/shared';

export interface Patience {
  /** How long the condition may take to hold. @default 30_000 */
  timeoutMs?: number;
  /** Pause between two reads. @default 25 */
  everyMs?: number;
  /** A read error that ends the wait at once (rethrown) instead of counting as nothing seen. */
  fatal?: (err: unknown) => boolean;
}

/**
 * Reads until `ok` holds of what was read, and returns that. A failed read counts as nothing
 * seen (a server restarting, visibility catching up). When the time is up it fails naming what
 * it waited for, the last thing it read and the last read error, so a timeout says why.
 */
export async function eventually<T>(what: string, read: () => T | Promise<T>, ok: (v: T) => boolean, patience: Patience = {}): Promise<T> {
  const { timeoutMs = 30_000, everyMs = 25, fatal = () => false } = patience;
  const deadline = Date.now() + timeoutMs;
  let last: { seen: T } | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      const seen = await read();
      last = { seen };
      if (ok(seen)) return seen;
    } catch (err) {
      if (fatal(err)) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(everyMs);
  }
  const saw = last ? `last saw ${shown(last.seen)}` : 'read nothing';
  const failed = lastError === undefined ? '' : `; last read failed: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${saw}${failed}`);
}

/** What was seen, short enough for a failure message (the end of a long output is the news). */
function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return text.length > 4000 ? `...${text.slice(-4000)}` : text;
}

/** Polls a workflow's progress query until `ok` holds (queries that fail meanwhile, e.g. while Temporal restarts, are retried). */
export function progressReaches(handle: WorkflowHandle, what: string, ok: (p: Progress) => boolean, timeoutMs = 60_000): Promise<Progress> {
  return eventually(`${handle.workflowId}: ${what}`, () => handle.query(progressQuery), ok, { timeoutMs });
}
