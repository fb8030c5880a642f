/**
 * Bad input fails at once: a non-retryable ApplicationFailure of type InvalidInput that names
 * every field, through the real server and worker.
 */
import { recordHistory, runWorkflowFailure, testClient, workflowId } from '../harness/cluster';

async function expectInvalid(type: string, input: unknown, ...fragments: string[]): Promise<string> {
  const id = workflowId(`${type}-invalid`);
  const failure = await runWorkflowFailure(type, input, id);
  expect(failure.type).toBe('InvalidInput');
  expect(failure.nonRetryable).toBe(true);
  for (const f of fragments) expect(failure.message).toContain(f);
  return id;
}

test('a missing cluster is named with what to put there', async () => {
  await expectInvalid('clusterHealth', {}, 'cluster: required: the inventory name of the cluster');
});

test('wrong types: every field is listed in one failure', async () => {
  await expectInvalid('clusterHealth', { cluster: 5, expectedMasters: 'three', extra: true }, 'cluster: expected a string', 'expectedMasters:', 'Unrecognized key: "extra"');
  await expectInvalid('createCluster', { cluster: 'forming', nodes: ['localhost', '127.0.0.1:1'], replicasPerMaster: -1 }, 'nodes[0]: expected "host:port"', 'replicasPerMaster:');
});

test('an unknown cluster is refused after one activity attempt, listing the known ones', async () => {
  const id = await expectInvalid('clusterHealth', { cluster: 'nope' }, 'cluster: unknown cluster "nope"', 'health');
  await recordHistory(id, 'clusterHealth-unknown-cluster');
  const client = await testClient();
  const history = await client.workflow.getHandle(id).fetchHistory();
  const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
  expect(attempts).toEqual([1]);
});

test('createCluster refuses too few nodes for three masters', async () => {
  await expectInvalid('createCluster', { cluster: 'forming', nodes: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'] }, 'give at least 6 nodes');
});
