/** The runbook's Failover Test and the process runtime, on a cluster of local redis-server processes. */
import { runWorkflowFailure } from '../harness/cluster';
import { runtimeSuite } from '../harness/runtimeSuite';

runtimeSuite('failover');

test('stop and kill need a runtime; a cluster without one is told to use manual', async () => {
  const failure = await runWorkflowFailure('failoverTest', { cluster: 'no-runtime', mode: 'kill' });
  expect(failure.type).toBe('InvalidInput');
  expect(failure.message).toContain('mode: "kill" stops a node, but cluster "no-runtime" has no runtime in the inventory (clusters.no-runtime.runtime); use mode "manual"');
});
