/** The runbook's Failover Test and the process runtime, on a cluster of local redis-server processes. */
import type { FailoverTestReport } from '../../src/workflows/failoverTest';
import { runWorkflow, runWorkflowFailure } from '../harness/cluster';
import { runtimeSuite } from '../harness/runtimeSuite';
import { AckedWriter, describeWrites } from '../helpers/ackedWriter';

runtimeSuite('failover', (cluster) => {
  test('the drill reports how long the failed shard could not be written; a client writing meanwhile loses no acknowledged write', async () => {
    const before = await cluster().healthUntil((r) => r.healthy);
    const shard = before.shards[1]!;
    const writer = AckedWriter.start(cluster().nodes[0]!, before.shards.map((s) => s.slots), 'acked-failover');
    let report: FailoverTestReport;
    try {
      report = await runWorkflow<FailoverTestReport>('failoverTest', { cluster: 'failover', mode: 'kill', master: shard.master.address, failback: false });
    } finally {
      const writes = await writer.stop();
      console.log(`failover: the writer during the drill\n${describeWrites(writes)}`);
    }
    try {
      console.log(`failover: the drill reports writes to ${shard.slots} unavailable for ${report.timings.writeUnavailableMs} ms (promotion after ${report.timings.promotionMs} ms)`);
      // The first write the promoted replica accepted came after its promotion, before the drill saw the cluster ok.
      expect(report.timings.writeUnavailableMs).toBeGreaterThanOrEqual(report.timings.promotionMs!);
      expect(report.timings.writeUnavailableMs).toBeLessThanOrEqual(report.timings.clusterOkMs!);
      expect(report.canaries.lost).toBe(0);
      expect(await writer.missingAcknowledged()).toEqual([]);
    } finally {
      await writer.removeKeys();
      writer.disconnect();
    }
  });
});

test('stop and kill need a runtime; a cluster without one is told to use manual', async () => {
  const failure = await runWorkflowFailure('failoverTest', { cluster: 'no-runtime', mode: 'kill' });
  expect(failure.type).toBe('InvalidInput');
  expect(failure.message).toContain('mode: "kill" stops a node, but cluster "no-runtime" has no runtime in the inventory (clusters.no-runtime.runtime); use mode "manual"');
});
