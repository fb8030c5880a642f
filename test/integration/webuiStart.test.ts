/**
 * The Temporal Web UI as an entry point, in headless Chromium (Debian's, through playwright-core):
 * an operator starts clusterHealth and a restore from the UI's Start Workflow form with JSON
 * input, approves the restore with the UI's Update action, and reads each result in the UI. The
 * UI sends its input through the run's codec server (/encode), so what it starts is encrypted in
 * the history like everything the CLI and the SDK start, and the worker runs it with the
 * operator's JSON. Screenshots are kept in test-results/ as artifacts.
 */
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify, stripVTControlCharacters } from 'node:util';
import type { Locator, Page } from 'playwright-core';
import { findTemporalCli } from '../../src/client/devServer';
import { ENCRYPTED_ENCODING } from '../../src/codec';
import type { BackupReport } from '../../src/workflows/backupCluster';
import { approveUpdate } from '../../src/shared';
import { password, runWorkflow, testClient, workflowId } from '../harness/cluster';
import { CODEC_URL, runCodec, runCodecKey, UI_ORIGIN } from '../harness/codec';
import { S3_SECRET_KEY, TASK_QUEUE, TEMPORAL_ADDRESS } from '../harness/env';
import { eventually, progressReaches } from '../helpers/waitFor';
import { ARTIFACTS, CHROMIUM, expectNothingSecret, shown, withBrowser } from '../helpers/webUi';

const UI = `${UI_ORIGIN}/namespaces/default`;
const CLUSTER = 'webui-start';
const suite = withBrowser(CLUSTER);

/** Runs one operator action on the page; when it fails, the error says what the page showed then. */
async function onPage<T>(page: Page, what: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (err) {
    const text = (await shown(page)).replace(/\s*\n\s*/g, '\n').slice(0, 3000);
    throw new Error(`${what} failed: ${stripVTControlCharacters((err as Error).message.split('\n').slice(0, 3).join(' '))}\nThe page (${page.url()}) showed:\n${text}`);
  }
}

/**
 * Waits for the page to show every one of `texts`, reloading it every 15 s, as an operator would,
 * when a panel stays on "Loading..." (the UI reads a finished run's history once). Fails with
 * what the page last showed.
 */
async function showsAll(page: Page, what: string, texts: string[], timeoutMs = 60_000): Promise<void> {
  let loadedAt = Date.now();
  await eventually(
    `the Web UI to show ${what}: ${JSON.stringify(texts)}`,
    async () => {
      if (Date.now() - loadedAt > 15_000) {
        await page.reload();
        loadedAt = Date.now();
      }
      return shown(page);
    },
    (text) => texts.every((t) => text.includes(t)),
    { timeoutMs, everyMs: 500 },
  );
}

/** Types JSON into one of the UI's code editors (CodeMirror), replacing what it held. */
async function typeJson(page: Page, editor: Locator, value: unknown): Promise<void> {
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(JSON.stringify(value));
}

/**
 * Fills the UI's Start Workflow form as an operator would and presses Start Workflow; returns
 * once the UI says it started. The form must see the worker on the task queue first.
 */
async function startFromForm(page: Page, type: string, id: string, input: unknown, screenshot: string): Promise<void> {
  await onPage(page, `opening the Start Workflow form for ${type}`, async () => {
    await page.goto(`${UI}/workflows/start-workflow`);
    await page.locator('#workflowId').fill(id);
    await page.locator('#taskQueue').fill(TASK_QUEUE);
    await page.locator('#workflowType').fill(type);
    await typeJson(page, page.locator('.cm-content').first(), input);
    // The editor hands its text to the form when it loses focus: leave it before pressing Start,
    // or the first press only takes the focus away.
    await page.getByRole('heading', { name: 'Start a Workflow' }).click();
  });
  // The form reads the task queue's pollers once the field is left: the worker must be there.
  await showsAll(page, `the task queue ${TASK_QUEUE} active in the form`, ['Task Queue is Active']);
  await page.screenshot({ path: join(ARTIFACTS, screenshot), fullPage: true });
  await expectNothingSecret(page);
  await onPage(page, `starting ${type} with the form's Start Workflow button`, async () => {
    await page.getByTestId('start-workflow-button').click();
    await page.getByText(/started successfully/i).first().waitFor({ timeout: 20_000 });
  });
}

/** Opens a run's page in the UI (the latest run of `id`). */
async function openRun(page: Page, id: string): Promise<void> {
  await onPage(page, `opening the run ${id}`, async () => {
    await page.goto(`${UI}/workflows/${id}`);
    await page.waitForURL(new RegExp(`/workflows/${id}/[^/]+/`), { timeout: 20_000 });
  });
}

interface StoredPayload {
  metadata?: Record<string, string>;
  data?: string;
}
type StoredEvent = Record<string, { input?: { payloads?: StoredPayload[] }; acceptedRequest?: { input?: { args?: { payloads?: StoredPayload[] } } } } | undefined>;

const fromBase64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64');

/** Every payload of a history, wherever it sits (inputs, results, activity calls, update arguments, metadata). */
function payloadsIn(value: unknown, out: StoredPayload[] = []): StoredPayload[] {
  if (Array.isArray(value)) value.forEach((v) => payloadsIn(v, out));
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'encoding' in o.metadata) out.push(o as StoredPayload);
    else Object.values(o).forEach((v) => payloadsIn(v, out));
  }
  return out;
}

/** What a payload the UI sent holds, decoded with the run's key. */
async function opened(payloads: StoredPayload[] | undefined): Promise<unknown[]> {
  const decoded = await runCodec().decode((payloads ?? []).map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, fromBase64(v)])),
    data: fromBase64(p.data),
  })));
  return decoded.map((p) => JSON.parse(Buffer.from(p.data ?? new Uint8Array()).toString('utf8')) as unknown);
}

/**
 * The history as the server stores it (the plain Temporal CLI, no codec), as whoever reads the
 * namespace sees it: every payload encrypted, no secret, and none of `clear` (the operator's
 * values) outside the search attributes, which stay readable by design (the list filters on them).
 */
async function storedHistory(id: string, clear: string[]): Promise<StoredEvent[]> {
  const args = ['workflow', 'show', '--workflow-id', id, '--output', 'json', '--address', TEMPORAL_ADDRESS];
  const json = (await promisify(execFile)(findTemporalCli(), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })).stdout;
  const history = JSON.parse(json, (k, v: unknown) => (k === 'searchAttributes' || k === 'upsertWorkflowSearchAttributesEventAttributes' ? undefined : v)) as { events: StoredEvent[] };
  // patched() markers are written by the SDK's core, past the codec: they hold the patch's name from our code, no data.
  const patchMarker = (e: StoredEvent) => (e.markerRecordedEventAttributes as { markerName?: string } | undefined)?.markerName === 'core_patch';
  const encodings = [...new Set(payloadsIn(history.events.filter((e) => !patchMarker(e))).map((p) => fromBase64(p.metadata?.encoding).toString()))];
  expect(encodings).toEqual([ENCRYPTED_ENCODING]);
  const text = JSON.stringify(history);
  const secrets = { 'the Redis password': password(), 'the S3 secret key': S3_SECRET_KEY, 'the codec key': runCodecKey().split(':')[1]! };
  for (const [what, value] of Object.entries({ ...secrets, ...Object.fromEntries(clear.map((c) => [c, c])) })) {
    expect({ [what]: text.includes(value) }).toEqual({ [what]: false });
  }
  return history.events;
}

test('the UI bundled with the dev server allows Start Workflow, Signal and Update, and decodes and encodes through the codec server', async () => {
  const settings = (await (await fetch(`${UI_ORIGIN}/api/v1/settings`)).json()) as Record<string, unknown> & { Codec?: { Endpoint?: string } };
  expect({
    DisableWriteActions: settings.DisableWriteActions,
    StartWorkflowDisabled: settings.StartWorkflowDisabled,
    WorkflowSignalDisabled: settings.WorkflowSignalDisabled,
    WorkflowUpdateDisabled: settings.WorkflowUpdateDisabled,
    codecEndpoint: settings.Codec?.Endpoint,
  }).toEqual({ DisableWriteActions: false, StartWorkflowDisabled: false, WorkflowSignalDisabled: false, WorkflowUpdateDisabled: false, codecEndpoint: CODEC_URL });
});

test('clusterHealth started from the Start Workflow form runs with the JSON input, encrypted in the history, and its report shows in the UI', async () => {
  const browser = suite.browser();
  if (!browser) return console.warn(`no ${CHROMIUM}: the Web UI test is skipped (it fails with CI=true)`);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  const encoded: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().startsWith(`${CODEC_URL}/encode`)) encoded.push(r.url());
  });
  const id = workflowId('uiform-health');
  const input = { cluster: CLUSTER };
  await startFromForm(page, 'clusterHealth', id, input, 'webui-start-health-form.png');
  expect(encoded).toHaveLength(1);

  const client = await testClient();
  const report = (await client.workflow.getHandle(id).result()) as { healthy: boolean; cluster: string };
  expect({ healthy: report.healthy, cluster: report.cluster }).toEqual({ healthy: true, cluster: CLUSTER });
  const events = await storedHistory(id, [CLUSTER]);
  expect(await opened(events[0]!.workflowExecutionStartedEventAttributes?.input?.payloads)).toEqual([input]);

  await openRun(page, id);
  await showsAll(page, 'the finished health check, its input and its report', ['Completed', `"cluster": "${CLUSTER}"`, '"healthy": true', '"slotsCovered": 16384']);
  await page.screenshot({ path: join(ARTIFACTS, 'webui-start-health-result.png'), fullPage: true });
  await expectNothingSecret(page);
  await page.close();
});

test('a restore started from the form waits for approval, is approved with the UI\'s Update action, and its report shows who approved', async () => {
  const browser = suite.browser();
  if (!browser) return console.warn(`no ${CHROMIUM}: the Web UI test is skipped (it fails with CI=true)`);
  const { backupId } = await runWorkflow<BackupReport>('backupCluster', { cluster: CLUSTER, store: 'local' });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  const id = workflowId('uiform-restore');
  const input = { cluster: CLUSTER, backupId, store: 'local' };
  await startFromForm(page, 'restoreCluster', id, input, 'webui-start-restore-form.png');

  const handle = (await testClient()).workflow.getHandle(id);
  await progressReaches(handle, 'the restore to wait for approval', (p) => p.step === 'Wait for approval', 60_000);

  await openRun(page, id);
  await showsAll(page, 'the restore running', ['Running', 'More Actions']);
  const approval = { by: 'webui-operator', reason: 'restore drill from the Web UI' };
  await onPage(page, `sending the ${approveUpdate.name} update from the More Actions menu`, async () => {
    await page.getByRole('button', { name: 'More Actions' }).first().click();
    await page.getByRole('menuitem', { name: 'Send an Update' }).click();
    // The page keeps two copies of its header and modals (wide and narrow layouts): act on the one shown.
    const modal = page.getByTestId('update-confirmation-modal').filter({ visible: true });
    await modal.waitFor({ timeout: 10_000 });
    // The UI lists the updates the run declares (the SDK answers its metadata query): pick ours.
    await modal.getByTestId('update-select-button').click();
    await modal.getByRole('option', { name: approveUpdate.name, exact: true }).click();
    await typeJson(page, modal.locator('.cm-content').first(), approval);
    // Leave the editor for a field of the form (a click on the modal's title closes it).
    await modal.locator('#update-id').click();
    await page.screenshot({ path: join(ARTIFACTS, 'webui-start-restore-update.png'), fullPage: true });
    await modal.getByTestId('confirm-modal-button').click();
    // The modal waits for the update's outcome: it closes on success, or shows the refusal.
    await page.getByText('Update successful').first().waitFor({ timeout: 30_000 });
  });

  const report = (await handle.result()) as { approval?: { by: string }; backupId: string };
  expect({ approvedBy: report.approval?.by, backupId: report.backupId }).toEqual({ approvedBy: approval.by, backupId });
  // What the UI sent, the start input and the update's argument, is stored encrypted, and opens to the operator's JSON.
  const events = await storedHistory(id, [CLUSTER, backupId, approval.by]);
  expect(await opened(events[0]!.workflowExecutionStartedEventAttributes?.input?.payloads)).toEqual([input]);
  const accepted = events.map((e) => e.workflowExecutionUpdateAcceptedEventAttributes).filter((a) => a !== undefined);
  expect(await Promise.all(accepted.map((a) => opened(a.acceptedRequest?.input?.args?.payloads)))).toEqual([[approval]]);
  await openRun(page, id);
  await showsAll(page, 'the finished restore and who approved it', ['Completed', `"backupId": "${backupId}"`, `"by": "${approval.by}"`], 90_000);
  await page.screenshot({ path: join(ARTIFACTS, 'webui-start-restore-result.png'), fullPage: true });
  await expectNothingSecret(page);
  await page.close();
});
