/**
 * Determinism guard: histories recorded from real runs (test/histories, refreshed with
 * REDISFORGE_RECORD_HISTORIES=1 npm test) must replay against today's workflow code. A change
 * that breaks one needs patched(). They are plain (recorded before payload encryption, or
 * decoded while recorded), so they replay without any key.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { plainHistoryJson, runWorkflowFailure, workflowId } from '../harness/cluster';
import { BUNDLE_PATH } from '../harness/env';

Runtime.install({ logger: new DefaultLogger('WARN') });

const DIR = join(__dirname, '..', 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

test('there are recorded histories of every workflow', () => {
  const types = new Set(files.map((f) => f.split('-')[0]));
  expect([...types].sort()).toEqual(['backupCluster', 'clusterHealth', 'createCluster', 'failoverTest', 'repairCluster', 'restoreCluster', 'upgradeRedis']);
});

test.each(files)('%s replays without nondeterminism', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(join(DIR, file), 'utf8')));
  await Worker.runReplayHistory({ workflowBundle: { codePath: BUNDLE_PATH }, replayName: file }, history, file);
});

test('a run of today, encrypted on the server, is recorded plain and replays without a key', async () => {
  // An unknown cluster: one activity and an InvalidInput failure, no Redis node needed.
  const id = workflowId('replay-record');
  expect((await runWorkflowFailure('clusterHealth', { cluster: 'no-such-cluster' }, id)).type).toBe('InvalidInput');
  const json = await plainHistoryJson(id);
  expect(json).not.toContain(Buffer.from('binary/encrypted').toString('base64'));
  await Worker.runReplayHistory({ workflowBundle: { codePath: BUNDLE_PATH }, replayName: id }, historyFromJSON(JSON.parse(json)), id);
});
