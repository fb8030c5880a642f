/**
 * upgradeRedis survives its worker: SIGKILLed (REDISFORGE_KILL_AT) right after the first replica
 * was replaced, then right after the first failover, while a client writes acknowledged writes.
 * The third worker completes the upgrade: every node on 8.0.2, every acknowledged write there.
 */
import type { UpgradeRedisReport } from '../../src/workflows/upgradeRedis';
import { TestCluster, testClient, workflowId } from '../harness/cluster';
import type { DatasetDigest } from '../harness/dataset';
import { runThroughKills } from '../helpers/killChain';
import { expectUpgraded, startWithUpgradeData, upgradeWhileWriting } from '../helpers/upgradeScenario';

const QUEUE = 'redisforge-ops-upgrade-crash';
let cluster: TestCluster;
let data: DatasetDigest;

beforeAll(async () => {
  ({ cluster, data } = await startWithUpgradeData('upgrade'));
});
afterAll(async () => {
  await cluster?.destroy();
});

test('the worker killed after a replica was replaced and again after a failover: the upgrade completes, no acknowledged write lost', async () => {
  const client = await testClient();
  let attempts: Record<string, number[]> = {};
  const outcome = await upgradeWhileWriting(cluster, async () => {
    const chain = await runThroughKills<UpgradeRedisReport>(QUEUE, ['replaceNodeVersion:1:after', 'failoverTo:1:after'], () =>
      client.workflow.start('upgradeRedis', { taskQueue: QUEUE, workflowId: workflowId('upgrade-crash'), args: [{ cluster: 'upgrade', version: '8.0.2' }] }));
    attempts = chain.attempts;
    return chain.result;
  });
  await expectUpgraded(cluster, outcome, '8.0.2', data);
  expect(outcome.report.failovers).toHaveLength(3);

  // The replace and the failover whose results were lost ran again, and found their work done.
  // History records the last attempt of each call: six replaces and three failovers, one of each retried.
  expect(attempts.replaceNodeVersion!.sort()).toEqual([1, 1, 1, 1, 1, 2]);
  expect(attempts.failoverTo!.sort()).toEqual([1, 1, 2]);
  expect(outcome.report.replaced.filter((r) => !r.changed)).toHaveLength(1);
});
