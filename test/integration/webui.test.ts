/**
 * The Temporal Web UI of the run's dev server, driven in headless Chromium (Debian's, through
 * playwright-core; no browser download), as an operator would: filter by RedisCluster, open the
 * restore that waits for approval and read its current details (step, plan, what it waits
 * for); approve it; find it again among the finished operations. The payloads are encrypted:
 * the UI shows them decoded through the run's codec server, and no page shows a secret.
 * Screenshots are kept in test-results/ as artifacts.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { BackupReport } from '../../src/workflows/backupCluster';
import { approveUpdate } from '../../src/shared';
import { runWorkflow, testClient, workflowId } from '../harness/cluster';
import { TASK_QUEUE, TEMPORAL_UI_PORT } from '../harness/env';
import { progressReaches } from '../helpers/waitFor';
import { ARTIFACTS, CHROMIUM, expectNothingSecret, withBrowser } from '../helpers/webUi';

const UI = `http://127.0.0.1:${TEMPORAL_UI_PORT}/namespaces/default`;
const suite = withBrowser('guard');

/**
 * Waits for the page to show every one of `texts`, reloading it every 20 s when a panel stays on
 * "Loading..." (the UI reads a finished run's history once, and a slow first read is not retried
 * by the page itself). A read during the page's own navigation (its context is destroyed) counts
 * as not yet. Fails after a minute with what the page last showed.
 */
async function showsAll(page: Page, texts: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  let reloadAt = Date.now() + 20_000;
  let body = '';
  for (;;) {
    body = await page.innerText('body', { timeout: 5_000 }).catch(() => body);
    if (texts.every((t) => body.includes(t))) return;
    if (Date.now() > deadline) break;
    if (Date.now() > reloadAt) {
      await page.reload().catch(() => undefined);
      reloadAt = Date.now() + 20_000;
    }
    await page.waitForTimeout(500);
  }
  for (const text of texts) expect(body).toContain(text);
}

/** Opens the workflow list filtered by `query` until `id` shows (visibility is eventually consistent). */
async function findInList(page: Page, query: string, id: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await page.goto(`${UI}/workflows?query=${encodeURIComponent(query)}`);
    if (await page.getByRole('link', { name: id }).first().waitFor({ timeout: 2_000 }).then(() => true, () => false)) return;
  }
  throw new Error(`${id} never showed in the Web UI list for ${query}`);
}

test('filtered by RedisCluster, a restore waiting for approval shows its plan and what it waits for; approved, it is found among the finished', async () => {
  const browser = suite.browser();
  if (!browser) return console.warn(`no ${CHROMIUM}: the Web UI test is skipped (it fails with CI=true)`);
  const { backupId } = await runWorkflow<BackupReport>('backupCluster', { cluster: 'guard', store: 'local' });
  const client = await testClient();
  const id = workflowId('webui-restore');
  const handle = await client.workflow.start('restoreCluster', {
    taskQueue: TASK_QUEUE, workflowId: id, args: [{ cluster: 'guard', backupId, store: 'local' }], staticSummary: 'restoreCluster on `guard`',
  });

  // The page reads the details once when it opens: open it once the restore waits.
  await progressReaches(handle, 'the restore to wait for approval', (p) => p.step === 'Wait for approval', 20_000);

  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  await findInList(page, 'RedisCluster = "guard" AND ExecutionStatus = "Running"', id);
  await page.screenshot({ path: join(ARTIFACTS, 'webui-filtered-running.png') });
  await expectNothingSecret(page);
  await page.getByRole('link', { name: id }).first().click();
  await page.waitForURL(new RegExp(`/workflows/${id}/`));
  await page.getByText('User Metadata').first().click();
  // The UI renders workflow markdown in a sandboxed frame.
  const rendered = page.frameLocator('iframe').last();
  await rendered.getByText('approval needed').first().waitFor({ timeout: 20_000 });
  expect(await page.innerText('body')).toContain('Current Details');
  const details = (await rendered.locator('body').allInnerTexts()).join('\n');
  expect(details).toMatch(/restoreCluster\s+on cluster\s+guard: running/);
  expect(details).toContain('Step 3 of 9: Wait for approval');
  expect(details).toContain(`Send the approve update to go on`);
  // The static summary the SDK and CLI set at start, rendered in its own frame.
  const frames = await Promise.all(page.frames().map((f) => f.locator('body').innerText().catch(() => '')));
  expect(frames.join('\n')).toMatch(/restoreCluster on\s+guard/);
  await page.screenshot({ path: join(ARTIFACTS, 'webui-current-details.png'), fullPage: true });
  await expectNothingSecret(page);

  await handle.executeUpdate(approveUpdate, { args: [{ by: 'webui-test' }] });
  await handle.result();
  await findInList(page, 'RedisCluster = "guard" AND RunbookOperation = "restoreCluster" AND ExecutionStatus = "Completed"', id);
  await page.getByRole('link', { name: id }).first().click();
  await page.waitForURL(new RegExp(`/workflows/${id}/`));
  await page.getByText('Completed').first().waitFor();
  // The result panel fills in after the status (decoded through the codec server): wait for it
  // rather than read too early, and reload, as an operator would, when the page stays on Loading.
  await showsAll(page, [`"backupId": "${backupId}"`, `"cluster": "guard"`]);
  await page.screenshot({ path: join(ARTIFACTS, 'webui-finished.png'), fullPage: true });
  await expectNothingSecret(page);
});
