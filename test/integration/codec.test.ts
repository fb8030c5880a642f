/**
 * Encrypted histories against the run's real Temporal server: what the server stores (read
 * with the plain Temporal CLI, no codec) is ciphertext for every input and result, with no
 * cluster name or node address in clear; `redisforge codec-server` decodes it for the Web UI's
 * origin only (CORS preflight included) and for the CLI's --codec-endpoint; a client holding
 * another key fails naming the key it lacks.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import { findTemporalCli } from '../../src/client/devServer';
import { EncryptionCodec, generateCodecKey, parseCodecKeys } from '../../src/codec';
import type { ClusterHealthResult } from '../../src/workflows/clusterHealth';
import { spawnRedisforge } from '../cli/redisforge';
import { TestCluster, testClient, workflowId } from '../harness/cluster';
import { CODEC_PORT, runCodecKey, UI_ORIGIN } from '../harness/codec';
import { TASK_QUEUE, TEMPORAL_ADDRESS, TEST_CLUSTERS } from '../harness/env';
import { eventually } from '../helpers/waitFor';

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
const temporal = async (...args: string[]) => (await promisify(execFile)(findTemporalCli(), [...args, '--address', TEMPORAL_ADDRESS], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })).stdout;
const show = async (id: string, ...extra: string[]) => JSON.parse(await temporal('workflow', 'show', '--workflow-id', id, '--output', 'json', ...extra)) as { events: Record<string, unknown>[] };
const keyId = () => runCodecKey().split(':')[0]!;
/** Search attributes stay readable by design: the list filters on RedisCluster. */
const withoutSearchAttributes = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (k, v: unknown) => (k === 'searchAttributes' || k === 'upsertWorkflowSearchAttributesEventAttributes' ? undefined : v)));

/** Every payload in a history, wherever it sits (inputs, results, activity calls, markers, metadata). */
function payloadsIn(value: unknown, out: JsonPayload[] = []): JsonPayload[] {
  if (Array.isArray(value)) value.forEach((v) => payloadsIn(v, out));
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'encoding' in (o.metadata as object)) out.push(o as JsonPayload);
    else Object.values(o).forEach((v) => payloadsIn(v, out));
  }
  return out;
}

let cluster: TestCluster;
let healthId: string;
let report: ClusterHealthResult;

beforeAll(async () => {
  cluster = await TestCluster.start('guard');
  healthId = workflowId('codec-health');
  // With a summary, as the SDK and CLI set one: the Web UI's metadata is a payload too.
  report = await (await testClient()).workflow.execute<(i: object) => Promise<ClusterHealthResult>>('clusterHealth', {
    taskQueue: TASK_QUEUE, workflowId: healthId, args: [{ cluster: 'guard' }], staticSummary: 'clusterHealth on `guard`',
  });
});
afterAll(async () => {
  await cluster?.destroy();
});

test('the stored history holds only ciphertext: no cluster name, no node address, every payload encrypted with the run key', async () => {
  expect(report.healthy).toBe(true);
  const history = withoutSearchAttributes(await show(healthId));
  // patched() markers are written by the SDK's core, not through the payload codec: they hold
  // only the patch id in clear (checked here), never an input or a result.
  const markers = (history as { events: { markerRecordedEventAttributes?: { markerName: string; details?: unknown } }[] }).events
    .flatMap((e) => (e.markerRecordedEventAttributes?.markerName === 'core_patch' ? [e.markerRecordedEventAttributes] : []));
  for (const p of payloadsIn(markers)) expect(Object.keys(JSON.parse(b64(p.data ?? '')) as object).sort()).toEqual(['deprecated', 'id']);
  const payloads = payloadsIn(JSON.parse(JSON.stringify(history, (k, v: unknown) => (k === 'markerRecordedEventAttributes' && (v as { markerName?: string }).markerName === 'core_patch' ? undefined : v))));
  // The input, each activity's arguments and result, the workflow's result at least.
  expect(payloads.length).toBeGreaterThanOrEqual(4);
  for (const p of payloads) {
    expect({ encoding: b64(p.metadata!.encoding!), keyId: b64(p.metadata!['encryption-key-id'] ?? '') }).toEqual({ encoding: 'binary/encrypted', keyId: keyId() });
    expect(b64(p.data ?? '')).not.toMatch(/guard|127\.0\.0\.1|json\/plain/);
  }
  const text = JSON.stringify(history);
  expect(text).not.toMatch(/guard/);
  for (const node of TEST_CLUSTERS.guard.nodes) expect(text).not.toContain(node);
  // The same history through the codec: the values are there, so the check above looked at real payloads.
  const started = (history as { events: { workflowExecutionStartedEventAttributes?: { input: { payloads: JsonPayload[] } } }[] }).events[0]!;
  const [input] = await new EncryptionCodec(parseCodecKeys(runCodecKey(), 'run')).decode(
    started.workflowExecutionStartedEventAttributes!.input.payloads.map((p) => ({ metadata: { encoding: Buffer.from(b64(p.metadata!.encoding!)), 'encryption-key-id': Buffer.from(keyId()) }, data: Buffer.from(p.data!, 'base64') })),
  );
  expect(JSON.parse(Buffer.from(input!.data!).toString('utf8'))).toEqual({ cluster: 'guard' });
});

test('a client with another key fails naming the key id it lacks', async () => {
  const other = new Client({ connection: (await testClient()).connection, dataConverter: { payloadCodecs: [new EncryptionCodec(parseCodecKeys(generateCodecKey('other'), 'test'))] } });
  await expect(other.workflow.getHandle(healthId).result()).rejects.toThrow(`a payload is encrypted with key "${keyId()}" and this process has the keys "other"`);
});

describe('redisforge codec-server', () => {
  const port = CODEC_PORT + 1;
  const url = `http://127.0.0.1:${port}`;
  let server: ReturnType<typeof spawnRedisforge>;

  beforeAll(async () => {
    server = spawnRedisforge(['codec-server', '--port', String(port), '--origin', UI_ORIGIN]);
    await eventually('the codec server to announce itself', () => server.output(), (out) => out.includes('redisforge codec-server:'), { timeoutMs: 30_000, everyMs: 100 });
    expect(server.output()).toContain(`redisforge codec-server: ${url} for ${UI_ORIGIN}; payloads encrypted with key "${keyId()}"`);
  });
  afterAll(async () => {
    server?.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  test('decodes the history for the UI origin, answering its preflight with X-Namespace allowed', async () => {
    const preflight = await fetch(`${url}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: UI_ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/i);

    const history = await show(healthId);
    const stored = (history.events[0] as { workflowExecutionStartedEventAttributes: { input: { payloads: JsonPayload[] } } }).workflowExecutionStartedEventAttributes.input.payloads;
    const res = await fetch(`${url}/decode`, { method: 'POST', headers: { Origin: UI_ORIGIN, 'Content-Type': 'application/json', 'X-Namespace': 'default' }, body: JSON.stringify({ payloads: stored }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    const { payloads } = (await res.json()) as { payloads: JsonPayload[] };
    expect(payloads.map((p) => ({ encoding: b64(p.metadata!.encoding!), value: JSON.parse(b64(p.data!)) as unknown }))).toEqual([{ encoding: 'json/plain', value: { cluster: 'guard' } }]);

    // The Temporal CLI decodes through it too (it sends no Origin).
    const decoded = JSON.stringify(await show(healthId, '--codec-endpoint', url));
    expect(decoded).toContain(Buffer.from(JSON.stringify({ cluster: 'guard' })).toString('base64'));
  });

  test('refuses another origin: no CORS headers, so its pages cannot read a decoded payload', async () => {
    const evil = 'http://127.0.0.1:9';
    const preflight = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { Origin: evil, 'Access-Control-Request-Method': 'POST' } });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const res = await fetch(`${url}/decode`, { method: 'POST', headers: { Origin: evil, 'Content-Type': 'application/json' }, body: JSON.stringify({ payloads: [] }) });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(await res.text()).not.toContain('payloads');
  });
});

test('codec-server without keys refuses to start, naming the variables', async () => {
  const run = spawnRedisforge(['codec-server', '--port', String(CODEC_PORT + 2)], { REDISFORGE_CODEC_KEYS: '' });
  const done = await run.exited;
  expect(done.code).toBe(2);
  expect(done.stderr).toContain('no codec keys: set REDISFORGE_CODEC_KEYS="id:base64key" or REDISFORGE_CODEC_KEYS_FILE');
});
