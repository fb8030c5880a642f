/**
 * The one polling helper below the workflows, outside an activity (the CLI, the test servers): it
 * returns what the check found, fails naming what it waited for and the status it saw last, ends a
 * round that hangs at the deadline, and lets a check's own error through.
 */
import { pollUntil } from '../../src/util/polling';

test('returns the value of the first round that is done', async () => {
  let rounds = 0;
  const value = await pollUntil(async () => (++rounds < 3 ? { done: false, status: `round ${rounds}` } : { done: true, value: 'ready' }), { what: 'the thing', timeoutMs: 5_000, intervalMs: 5 });
  expect([value, rounds]).toEqual(['ready', 3]);
});

test('fails after its timeout with a WaitTimedOut naming what it waited for and the last status', async () => {
  let rounds = 0;
  const failure = await pollUntil(async () => ({ done: false, status: `lag ${++rounds}` }), { what: 'the replica to catch up', timeoutMs: 200, intervalMs: 20 }).catch((err: Error & { type?: string; nonRetryable?: boolean }) => err);
  expect(failure).toMatchObject({ type: 'WaitTimedOut', nonRetryable: true });
  expect((failure as Error).message).toMatch(/^timed out after 0 s waiting for the replica to catch up; last status: lag \d+$/);
  expect((failure as Error).message).toContain(`lag ${rounds}`);
});

test('a round that never returns ends the wait about a second after the deadline, saying a check hangs', async () => {
  const started = Date.now();
  const failure = await pollUntil(() => new Promise<never>(() => undefined), { what: 'a hung node', timeoutMs: 100 }).catch((err: Error) => err);
  expect((failure as Error).message).toContain('a check did not return within the deadline');
  expect(Date.now() - started).toBeLessThan(10_000);
});

test('an error the check throws ends the wait with that error, and a caller may name its own timeout error', async () => {
  await expect(pollUntil(async () => Promise.reject(new Error('the server exited with 1')), { what: 'the server', timeoutMs: 5_000 })).rejects.toThrow('the server exited with 1');
  await expect(pollUntil(async () => ({ done: false, status: 'closed' }), { what: 'port 1', timeoutMs: 50, intervalMs: 10, timedOut: (o) => new Error(`nothing on port 1 (${o.status})`) })).rejects.toThrow('nothing on port 1 (closed)');
});
