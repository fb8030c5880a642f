/**
 * upgradeRedis on containers, redisforge/redis:7.0.15 -> 8.0.2, while a client writes
 * acknowledged writes the whole time: each container recreated on the new image with its volumes
 * (same node id), every acknowledged write there, clusterHealth clean. The main scenario only:
 * the process runtime's tests cover pause, abort and crashes of the same workflow.
 */
import { DockerRuntime } from '../../src/runtime';
import type { UpgradeRedisReport } from '../../src/workflows/upgradeRedis';
import { runWorkflow, TestCluster, withRedis } from '../harness/cluster';
import type { DatasetDigest } from '../harness/dataset';
import { runInfo } from '../harness/env';
import { expectUpgraded, loadUpgradeData, upgradeWhileWriting } from '../helpers/upgradeScenario';

const describeWithDocker = runInfo().dockerAvailable ? describe : describe.skip;
const name = 'docker-upgrade';

describeWithDocker('upgradeRedis on containers', () => {
  let cluster: TestCluster;
  let data: DatasetDigest;

  beforeAll(async () => {
    cluster = await TestCluster.start(name);
    data = await loadUpgradeData(cluster);
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  test('7.0.15 -> 8.0.2 while a client writes: every container on the new image, every acknowledged write kept, health clean', async () => {
    const ids = await Promise.all(cluster.nodes.map((n) => withRedis(n, async (r) => String(await r.call('CLUSTER', 'MYID')))));
    const outcome = await upgradeWhileWriting(cluster, () => runWorkflow<UpgradeRedisReport>('upgradeRedis', { cluster: name, version: '8.0.2' }));
    expect(outcome.report.replaced.map((r) => [r.from, r.changed])).toEqual(Array(6).fill(['7.0.15', true]));
    expect(outcome.report.failovers.map((f) => f.failback)).toEqual([false, false, false]);
    const health = await expectUpgraded(cluster, outcome, '8.0.2', data);
    // Without failback, each shard's former replica is its master now.
    expect(health.shards.map((s) => s.master.id)).toEqual(outcome.before.shards.map((s) => s.replicas[0]!.id));

    const runtime = cluster.runtime as DockerRuntime;
    expect(await Promise.all(cluster.nodes.map((n) => withRedis(n, async (r) => String(await r.call('CLUSTER', 'MYID')))))).toEqual(ids);
    const containers = await runtime.docker(cluster.nodes[0]!).listContainers({ all: true, filters: { label: [`redisforge.cluster=${name}`] } });
    expect(containers.map((c) => [c.Image, c.State]).sort()).toEqual(Array(6).fill(['redisforge/redis:8.0.2', 'running']));
  });
});
