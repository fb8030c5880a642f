/**
 * upgradeRedis on containers, redisforge/redis:7.0.15 -> 8.0.2, while a client writes
 * acknowledged writes the whole time, and the worker SIGKILLed right after the first replace and
 * right after the first failover: each container recreated on the new image with its volumes
 * (same node id), no old container left aside, every acknowledged write there, clusterHealth
 * clean. The process runtime's tests cover pause, abort and the other faults of the same workflow.
 */
import { DockerRuntime } from '../../src/runtime';
import type { UpgradeRedisReport } from '../../src/workflows/upgradeRedis';
import { TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import type { DatasetDigest } from '../harness/dataset';
import { runInfo } from '../harness/env';
import { runThroughKills } from '../helpers/killChain';
import { expectUpgraded, upgradeWhileWriting, withUpgradeCluster } from '../helpers/upgradeScenario';

const describeWithDocker = runInfo().dockerAvailable ? describe : describe.skip;
const name = 'docker-upgrade';

describeWithDocker('upgradeRedis on containers', () => {
  let cluster: TestCluster;
  let data: DatasetDigest;

  withUpgradeCluster(name, (started, digest) => ((cluster = started), (data = digest)));

  test('7.0.15 -> 8.0.2 while a client writes, the worker killed after a replace and after a failover: every container on the new image, every acknowledged write kept, health clean', async () => {
    const ids = await Promise.all(cluster.nodes.map((n) => withRedis(n, async (r) => String(await r.call('CLUSTER', 'MYID')))));
    const client = await testClient();
    const queue = 'redisforge-ops-docker-upgrade-crash';
    let attempts: Record<string, number[]> = {};
    const outcome = await upgradeWhileWriting(cluster, async () => {
      const chain = await runThroughKills<UpgradeRedisReport>(queue, ['replaceNodeVersion:1:after', 'failoverTo:1:after'], () =>
        client.workflow.start('upgradeRedis', { taskQueue: queue, workflowId: workflowId('docker-upgrade-crash'), args: [{ cluster: name, version: '8.0.2' }] }));
      attempts = chain.attempts;
      return chain.result;
    });
    // The replace whose result was lost ran again and found the new container there.
    expect(attempts.replaceNodeVersion!.sort()).toEqual([1, 1, 1, 1, 1, 2]);
    expect(attempts.failoverTo!.sort()).toEqual([1, 1, 2]);
    expect(outcome.report.replaced.map((r) => r.from)).toEqual(Array(6).fill('7.0.15'));
    expect(outcome.report.replaced.filter((r) => !r.changed)).toHaveLength(1);
    expect(outcome.report.failovers.map((f) => f.failback)).toEqual([false, false, false]);
    const health = await expectUpgraded(cluster, outcome, '8.0.2', data);
    // Without failback, each shard's former replica is its master now.
    expect(health.shards.map((s) => s.master.id)).toEqual(outcome.before.shards.map((s) => s.replicas[0]!.id));

    const runtime = cluster.runtime as DockerRuntime;
    expect(await Promise.all(cluster.nodes.map((n) => withRedis(n, async (r) => String(await r.call('CLUSTER', 'MYID')))))).toEqual(ids);
    const containers = await runtime.docker(cluster.nodes[0]!).listContainers({ all: true, filters: { label: [`redisforge.cluster=${name}`] } });
    // Each old container was removed once its node was in sync: none is left aside.
    expect(containers.map((c) => [c.Image, c.State]).sort()).toEqual(Array(6).fill(['redisforge/redis:8.0.2', 'running']));
  });
});
