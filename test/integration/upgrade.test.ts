/**
 * upgradeRedis on local processes, 7.0.15 -> 8.0.2: the plan and the refusals; the rolling
 * upgrade (with failback) while a client writes acknowledged writes the whole time; a re-run that
 * changes nothing; pause, a health drop that waits for a decision, and abort, which leaves every
 * shard with a master and an in-sync replica.
 */
import type { ApplicationFailure } from '@temporalio/common';
import { abortUpdate, pauseUpdate, resumeUpdate } from '../../src/shared';
import type { UpgradeRedisReport } from '../../src/workflows/upgradeRedis';
import { recordHistory, runWorkflow, runWorkflowFailure, TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import type { DatasetDigest } from '../harness/dataset';
import { TASK_QUEUE } from '../harness/env';
import { expectUpgraded, upgradeWhileWriting, withUpgradeCluster } from '../helpers/upgradeScenario';
import { progressReaches } from '../helpers/waitFor';

const name = 'upgrade';
let cluster: TestCluster;
let data: DatasetDigest;

withUpgradeCluster(name, (started, digest) => ((cluster = started), (data = digest)));

test('dry run: the plan; bad input and an unknown version are refused, naming the field', async () => {
  const dry = await runWorkflow<UpgradeRedisReport>('upgradeRedis', { cluster: name, version: '8.0.2', dryRun: true });
  expect(dry.plan.nodesToReplace).toBe(6);
  expect(dry.plan.waves).toEqual([[0], [1], [2]]);
  expect(dry.plan.shards.map((s) => [s.replaceReplicas.length, s.replaceMaster, s.failoverTo?.id === s.replicas[0]!.id, s.downtime])).toEqual([
    [1, true, true, false], [1, true, true, false], [1, true, true, false],
  ]);
  expect(dry.nodes.every((n) => n.version === '7.0.15' && n.redisVersion === '7.0.15')).toBe(true);

  const unknown = await runWorkflowFailure('upgradeRedis', { cluster: name, version: '9.9.9' });
  expect(unknown.type).toBe('InvalidInput');
  expect(unknown.message).toContain('version: "9.9.9" cannot run on 127.0.0.1:');
  expect(unknown.message).toContain('versions: 7.0.15, 8.0.2');

  const bad = await runWorkflowFailure('upgradeRedis', { cluster: name, version: 'redisforge/redis:8.0.2', shardsInParallel: 0, failback: 'yes' });
  expect(bad.type).toBe('InvalidInput');
  expect(bad.message).toContain('version: expected an image tag or a version name, e.g. "8.0.2"');
  expect(bad.message).toContain('shardsInParallel:');
  expect(bad.message).toContain('failback:');
  expect((await runWorkflowFailure('upgradeRedis', { cluster: name })).message).toContain('version: required: the version to run');
});

test('a shard without a replica is refused unless approved (its slots would be down)', async () => {
  const [first, second] = (await cluster.health()).shards;
  const moved = first!.replicas[0]!;
  await withRedis(moved.address, (r) => r.call('CLUSTER', 'REPLICATE', second!.master.id));
  try {
    await cluster.healthUntil((r) => r.findings.some((f) => f.code === 'MASTER_WITHOUT_REPLICA') && !r.findings.some((f) => f.code === 'REPLICA_LINK_DOWN'));
    const refused = await runWorkflowFailure('upgradeRedis', { cluster: name, version: '8.0.2' });
    expect(refused.type).toBe('PreflightFailed');
    expect(refused.message).toContain(`shard ${first!.slots} (master ${first!.master.address}) has no replica`);
    expect(refused.message).toContain('pass approve: true to accept the downtime');
    const dry = await runWorkflow<UpgradeRedisReport>('upgradeRedis', { cluster: name, version: '8.0.2', dryRun: true });
    expect(dry.plan.shards[0]).toMatchObject({ slots: first!.slots, downtime: true, replicas: [] });
    expect(dry.plan.shards[0]!.failoverTo).toBeUndefined();
  } finally {
    await withRedis(moved.address, (r) => r.call('CLUSTER', 'REPLICATE', first!.master.id));
  }
  expect((await cluster.healthUntil((r) => r.healthy)).healthy).toBe(true);
});

test('7.0.15 -> 8.0.2, two shards at a time, with failback, while a client writes: every node upgraded, every acknowledged write kept, health clean', async () => {
  const id = workflowId('upgrade-two-at-a-time');
  const outcome = await upgradeWhileWriting(cluster, () => runWorkflow<UpgradeRedisReport>('upgradeRedis', { cluster: name, version: '8.0.2', failback: true, shardsInParallel: 2 }, id));
  await recordHistory(id, 'upgradeRedis-two-shards-failback');
  const { report, before } = outcome;
  expect(report.plan.waves).toEqual([[0, 1], [2]]);
  expect(report.replaced.map((r) => [r.from, r.changed, r.redisVersion])).toEqual(Array(6).fill(['7.0.15', true, '8.0.2']));
  // Per shard: the replica first, then the old master; a failover to the replica and one back.
  for (const shard of before.shards) {
    expect(report.replaced.filter((r) => [shard.master.address, shard.replicas[0]!.address].includes(r.address)).map((r) => r.address)).toEqual([shard.replicas[0]!.address, shard.master.address]);
    expect(report.failovers.filter((f) => f.slots === shard.slots).map((f) => [f.to, f.failback])).toEqual([[shard.replicas[0]!.address, false], [shard.master.address, true]]);
  }
  expect(report.healthPauses).toEqual([]);
  expect(report.findingsAfter).toEqual([]);
  const health = await expectUpgraded(cluster, outcome, '8.0.2', data);
  // Failback gave every shard its master back.
  expect(health.shards.map((s) => [s.slots, s.master.id])).toEqual(before.shards.map((s) => [s.slots, s.master.id]));
});

test('a second run replaces nothing: every node is on 8.0.2 already', async () => {
  const report = await runWorkflow<UpgradeRedisReport>('upgradeRedis', { cluster: name, version: '8.0.2' });
  expect(report.plan).toMatchObject({ nodesToReplace: 0, shards: [] });
  expect(report.plan.alreadyUpgraded).toEqual([...cluster.nodes]);
  expect(report.replaced).toEqual([]);
  expect(report.failovers).toEqual([]);
});

test('pause holds; a health drop between shards waits for a decision; abort leaves every shard with a master and an in-sync replica', async () => {
  await cluster.destroy();
  cluster = await TestCluster.start(name);
  const shards = (await cluster.health()).shards;
  const client = await testClient();
  const handle = await client.workflow.start('upgradeRedis', { taskQueue: TASK_QUEUE, workflowId: workflowId('upgrade-abort'), args: [{ cluster: name, version: '8.0.2', healthSettleSeconds: 3 }] });
  await handle.executeUpdate(pauseUpdate);
  const paused = await progressReaches(handle, 'the pause to hold', (p) => p.detail?.includes('**Paused**') ?? false, 120_000);
  expect(paused.detail).toContain(`**Paused** before shard ${shards[0]!.slots}`);
  expect(await Promise.all(cluster.nodes.map((n) => cluster.runtime.version(n)))).toEqual(Array(6).fill('7.0.15'));

  // The last shard loses its replica while the first shard is upgraded: after it, the upgrade waits.
  const lost = shards[2]!.replicas[0]!.address;
  await cluster.runtime.stop(lost);
  await handle.executeUpdate(resumeUpdate);
  const decision = await progressReaches(handle, 'the decision pause', (p) => p.detail?.includes('Paused for a decision') ?? false, 120_000);
  expect(decision.detail).toContain(`after shard ${shards[0]!.slots}`);
  expect(decision.detail).toContain(lost);
  expect(decision.detail).toMatch(/\| 127\.0\.0\.1:\d+ \| \w+ \| 8\.0\.2 \(target\) \| 8\.0\.2 \|/);
  expect(await cluster.runtime.version(shards[1]!.master.address)).toBe('7.0.15');

  await cluster.runtime.start(lost);
  await handle.executeUpdate(abortUpdate, { args: [{ reason: 'test' }] });
  const report = (await handle.result()) as UpgradeRedisReport;
  expect(report.aborted).toBe('test');
  expect(report.healthPauses).toEqual([{ after: `shard ${shards[0]!.slots}`, findings: expect.arrayContaining([expect.stringContaining(lost)]), decision: 'aborted' }]);
  expect(report.nodes.filter((n) => n.version === '8.0.2').map((n) => n.address).sort()).toEqual([shards[0]!.master.address, shards[0]!.replicas[0]!.address].sort());

  const health = await cluster.healthUntil((r) => r.healthy);
  expect(health.healthy).toBe(true);
  expect(health.shards.map((s) => [s.slots, s.replicas.length])).toEqual(shards.map((s) => [s.slots, 1]));
  expect(health.findings.map((f) => f.code)).toEqual(['MIXED_VERSIONS']);
});

test('an unknown cluster is refused with the known ones', async () => {
  const failure = (await runWorkflowFailure('upgradeRedis', { cluster: 'nope', version: '8.0.2' })) as ApplicationFailure;
  expect(failure.type).toBe('InvalidInput');
  expect(failure.message).toContain('cluster: unknown cluster "nope"');
});
