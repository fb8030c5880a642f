/**
 * Runs last in a full run and inspects the whole run: no secret of it (the Redis password, the
 * S3 secret key, the ACL users' passwords, the payload codec key) appears in any workflow
 * history (payloads decoded, encrypted ones through the codec), in any worker's log, in the
 * CLI's output, or in the argv or environment of a running redis-server; and every runbook run
 * carries the RedisCluster and RunbookOperation search attributes. It forms the `failover`
 * cluster itself, so the CLI and the /proc checks have a live cluster even when run alone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Payload } from '@temporalio/common';
import { TestCluster, testClient } from '../harness/cluster';
import { STATE_DIR, TEMPORAL_ADDRESS } from '../harness/env';
import { leakedIn, runSecrets, type NamedSecret } from '../harness/secrets';
import { redisforge, type CliRun } from '../cli/redisforge';
import { eventually } from '../helpers/waitFor';

const ENCRYPTED = 'binary/encrypted';
let secrets: NamedSecret[];
let cluster: TestCluster;
const cliRuns: { args: string[]; run: CliRun }[] = [];
const cli = async (...args: string[]) => {
  const run = await redisforge(args, { TEMPORAL_ADDRESS });
  cliRuns.push({ args, run });
  return run;
};

beforeAll(async () => {
  secrets = runSecrets();
  cluster = await TestCluster.start('failover');
  const health = await cli('health', '--cluster', 'failover', '--json');
  expect(health.code).toBe(0);
  const { workflowId } = JSON.parse(health.stdout) as { workflowId: string };
  await cli('status', workflowId);
  // Visibility is eventually consistent: the list shows the health run within moments.
  await eventually('the health run in `list`', () => cli('list', '--cluster', 'failover', '--json'), (r) => r.stdout.includes(workflowId));
  await cli('list');
  await cli('health', '--cluster', 'failover');
});
afterAll(async () => {
  await cluster?.destroy();
});

const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : '');
const isPayload = (v: object): v is Payload => 'metadata' in v && typeof (v as Payload).metadata === 'object' && (v as Payload).metadata?.encoding instanceof Uint8Array;

/** Every string of a history in one text, each payload decoded (through the client's codecs when encrypted); and the encrypted payloads no codec opened. */
async function historyText(value: unknown, codecs: readonly { decode(p: Payload[]): Promise<Payload[]> }[]): Promise<{ text: string; sealed: number }> {
  const parts: string[] = [];
  let sealed = 0;
  const walk = async (v: unknown): Promise<void> => {
    if (v == null) return;
    if (typeof v === 'string') parts.push(v);
    else if (v instanceof Uint8Array) parts.push(text(v));
    else if (typeof v === 'object') {
      if (isPayload(v) && text(v.metadata!.encoding) === ENCRYPTED) {
        let decoded = [v];
        for (const codec of [...codecs].reverse()) decoded = await codec.decode(decoded);
        if (text(decoded[0]!.metadata?.encoding) === ENCRYPTED) sealed++;
        else return walk(decoded[0]);
      }
      for (const child of Object.values(v as Record<string, unknown>)) await walk(child);
    }
  };
  await walk(value);
  return { text: parts.join('\n'), sealed };
}

test('no history of this run contains a secret, payloads decoded; all runbook runs carry RedisCluster and RunbookOperation', async () => {
  const client = await testClient();
  const codecs = client.options.loadedDataConverter.payloadCodecs;
  const leaks: string[] = [];
  const unattributed: string[] = [];
  const types = new Set<string>();
  let count = 0;
  for await (const wf of client.workflow.list()) {
    const { text: history, sealed } = await historyText(await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory(), codecs);
    // Payload bytes were decoded, so the search means something.
    expect(`${wf.workflowId}: ${sealed} encrypted payloads the test client cannot open`).toBe(`${wf.workflowId}: 0 encrypted payloads the test client cannot open`);
    expect(history).toContain('json/plain');
    leaks.push(...leakedIn(history, secrets).map((s) => `${wf.workflowId}: ${s}`));
    if (wf.searchAttributes.RedisCluster) types.add(`${wf.type}:${String(wf.searchAttributes.RunbookOperation)}`);
    // A run refused for its input never names a cluster it may trust; every run that did its work must.
    else if (RUNBOOK_TYPES.includes(wf.type) && wf.status.name === 'COMPLETED') unattributed.push(`${wf.workflowId} (${wf.type})`);
    count++;
  }
  expect(leaks).toEqual([]);
  expect(unattributed).toEqual([]);
  expect(count).toBeGreaterThan(2);
  // This file's own runs; in a full run the backup and restore suites' runs are checked alike above.
  expect([...types]).toEqual(expect.arrayContaining(['clusterHealth:clusterHealth', 'createCluster:createCluster']));
  for (const t of types) if (RUNBOOK_TYPES.includes(t.split(':')[0]!)) expect(t).toBe(`${t.split(':')[0]}:${t.split(':')[0]}`);
});

const RUNBOOK_TYPES = ['backupCluster', 'clusterHealth', 'createCluster', 'restoreCluster'];

/** The worker logs of the run (worker.log, the kill chains' and the suites' own workers'), anywhere under STATE_DIR. */
function workerLogs(dir = STATE_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? workerLogs(join(dir, e.name)) : /^worker.*\.log$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

test("no worker's log contains a secret", () => {
  const logs = workerLogs();
  expect(logs).toContain(join(STATE_DIR, 'worker.log'));
  const leaks = logs.flatMap((log) => leakedIn(readFileSync(log, 'utf8'), secrets).map((s) => `${log}: ${s}`));
  expect(leaks).toEqual([]);
});

test("the CLI's stdout and stderr (health, status, list) contain no secret", () => {
  expect(cliRuns.length).toBeGreaterThanOrEqual(5);
  // The runs did their job, so their output is the real one.
  expect(cliRuns.find((c) => c.args[0] === 'status')?.run.stdout).toContain('Cluster failover: HEALTHY');
  const leaks = cliRuns.flatMap(({ args, run }) => leakedIn(`${run.stdout}\n${run.stderr}`, secrets).map((s) => `redisforge ${args.join(' ')}: ${s}`));
  expect(leaks).toEqual([]);
});

test("no running redis-server's argv holds a secret, nor the environment of the cluster's nodes", () => {
  const servers = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map((pid) => ({ pid, cmdline: readProc(pid, 'cmdline') }))
    .filter((p) => p.cmdline.includes('redis-server'));
  // At least this file's six nodes; the other suites' nodes and other runs' when they are up.
  expect(servers.length).toBeGreaterThanOrEqual(6);
  expect(servers.flatMap((p) => leakedIn(p.cmdline, secrets).map((s) => `pid ${p.pid} (${p.cmdline}): ${s}`))).toEqual([]);
  const environ = cluster.nodes.map((n) => ({ node: n, env: readProc(String(cluster.pid(n)), 'environ') }));
  expect(environ.flatMap((e) => leakedIn(e.env, secrets).map((s) => `${e.node}: ${s}`))).toEqual([]);
  expect(environ.filter((e) => /REDIS_REQUIREPASS|AWS_SECRET_ACCESS_KEY|TEMPORAL_API_KEY/.test(e.env)).map((e) => e.node)).toEqual([]);
});

function readProc(pid: string, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return ''; // it exited meanwhile
  }
}
