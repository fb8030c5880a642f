/** The failover drill and the runtime's replace, the same tests for every runtime (process and docker). */
import type { FailoverTestReport } from '../../src/workflows/failoverTest';
import { Readable } from 'node:stream';
import { canaryKeys, parseSlotRange } from '../../src/cluster';
import { password, recordHistory, runWorkflow, runWorkflowFailure, TestCluster, withRedis, workflowId } from './cluster';
import type { TestClusterName } from './env';

/** `more` registers runtime-specific tests that run last on the same cluster. */
export function runtimeSuite(name: TestClusterName, more?: (cluster: () => TestCluster) => void): void {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start(name);
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  const drill = async (input: Record<string, unknown>, history?: string) => {
    const id = workflowId(`failoverTest-${name}`);
    const report = await runWorkflow<FailoverTestReport>('failoverTest', { cluster: name, ...input }, id);
    if (history && name === 'failover') await recordHistory(id, history);
    return report;
  };

  function expectOrderedTimings(report: FailoverTestReport): void {
    const t = report.timings;
    const sequence = [t.failFlagMs ?? 0, t.promotionMs!, t.clusterOkMs!, t.rejoinMs!, t.linkUpMs!];
    expect(sequence.every((v) => v >= 0)).toBe(true);
    expect([...sequence].sort((a, b) => a - b)).toEqual(sequence);
  }

  test('stop: a replica is promoted, no acknowledged canary is lost, the old master rejoins, failback restores the roles', async () => {
    const report = await drill({ mode: 'stop', canaries: 200 }, 'failoverTest-stop-failback-v2');
    expect(report.promoted).toEqual(report.replica);
    expect(report.canaries).toMatchObject({ written: 200, acknowledged: true, lost: 0 });
    expect(report.failedBack).toBe(true);
    expect(report.healthyAfter).toBe(true);
    expect(report.after!.map((s) => [s.slots, s.master.id])).toEqual(report.before.map((s) => [s.slots, s.master.id]));
    expect(report.timings.failFlagMs).toBeGreaterThan(0);
    expectOrderedTimings(report);
    expect(await cluster.runtime.status(report.master.address)).toBe('running');
    // The drill leaves no canary behind.
    const keys = await Promise.all(report.after!.map((s) => withRedis(s.master.address, (r) => r.dbsize())));
    expect(keys.reduce((a, b) => a + b, 0)).toBe(0);
  });

  test('kill without failback: the old master ends as a replica of the promoted one', async () => {
    const before = await cluster.health();
    const target = before.shards[2]!;
    const report = await drill({ mode: 'kill', master: target.master.address, failback: false });
    expect(report.master.id).toBe(target.master.id);
    expect(report.canaries.lost).toBe(0);
    expect(report.failedBack).toBe(false);
    const shard = report.after!.find((s) => s.slots === target.slots)!;
    expect(shard.master.id).toBe(report.promoted!.id);
    expect(shard.replicas.map((r) => r.id)).toEqual([target.master.id]);
    const role = await withRedis(target.master.address, async (r) => String(await r.call('ROLE')));
    expect(role.startsWith('slave')).toBe(true);
    expectOrderedTimings(report);
  });

  test('manual: CLUSTER FAILOVER on the replica, verified, then failback; nothing is stopped', async () => {
    // Another shard than the drills above: masters refuse to vote twice for one shard's replicas
    // within 2 x cluster-node-timeout, which would only delay this one.
    const report = await drill({ mode: 'manual', master: (await cluster.health()).shards[1]!.master.id });
    expect(report.timings.failFlagMs).toBeUndefined();
    expect(report.promoted).toEqual(report.replica);
    expect(report.canaries.lost).toBe(0);
    expect(report.failedBack).toBe(true);
    expect(report.after!.map((s) => s.master.id)).toEqual(report.before.map((s) => s.master.id));
  });

  test('bad input: an unknown master, a master without replicas, an unknown mode', async () => {
    const unknown = await runWorkflowFailure('failoverTest', { cluster: name, master: '127.0.0.1:1' });
    expect(unknown.type).toBe('InvalidInput');
    expect(unknown.message).toContain('master: no master "127.0.0.1:1" owns slots in this cluster; masters: ');

    const mode = await runWorkflowFailure('failoverTest', { cluster: name, mode: 'reboot' });
    expect(mode.type).toBe('InvalidInput');
    expect(mode.message).toContain('mode: expected one of "stop", "kill", "manual"');

    const [first, second] = (await cluster.health()).shards;
    const moved = first!.replicas[0]!;
    await withRedis(moved.address, (r) => r.call('CLUSTER', 'REPLICATE', second!.master.id));
    try {
      await cluster.healthUntil((r) => r.findings.some((f) => f.code === 'MASTER_WITHOUT_REPLICA'));
      const lonely = await runWorkflowFailure('failoverTest', { cluster: name, master: first!.master.address });
      expect(lonely.type).toBe('PreflightFailed');
      expect(lonely.nonRetryable).toBe(true);
      expect(lonely.message).toBe(`master ${first!.master.address} cannot be failed over safely: it has no replica`);
    } finally {
      await withRedis(moved.address, (r) => r.call('CLUSTER', 'REPLICATE', first!.master.id));
    }
    expect((await cluster.healthUntil((r) => r.healthy)).healthy).toBe(true);
  });

  test('replace moves a replica from 7.0.15 to 8.0.2 keeping its data and node id; again is a no-op', async () => {
    const shard = (await cluster.health()).shards[0]!;
    const node = shard.replicas[0]!.address;
    const keys = canaryKeys([parseSlotRange(shard.slots)], 500, 'replace');
    await withRedis(shard.master.address, async (r) => {
      await Promise.all(keys.map((k, i) => r.set(k, String(i))));
      await r.call('WAIT', '1', '5000');
    });
    const before = await withRedis(node, async (r) => ({ id: String(await r.call('CLUSTER', 'MYID')), keys: await r.dbsize() }));
    expect(before.keys).toBeGreaterThanOrEqual(500);
    expect(await cluster.runtime.version(node)).toBe('7.0.15');

    expect(await cluster.runtime.replace(node, '8.0.2')).toEqual({ changed: true });
    const after = await withRedis(node, async (r) => {
      const info = String(await r.call('INFO', 'server'));
      return { id: String(await r.call('CLUSTER', 'MYID')), keys: await r.dbsize(), version: /redis_version:(\S+)/.exec(info)![1] };
    });
    expect(after).toEqual({ id: before.id, keys: before.keys, version: '8.0.2' });
    expect(await cluster.runtime.version(node)).toBe('8.0.2');
    expect(await cluster.runtime.replace(node, '8.0.2')).toEqual({ changed: false });
    // What replace kept to roll back to (docker: the old container) goes once the caller is satisfied.
    await cluster.runtime.discardReplaced?.(node);
    const health = await cluster.healthUntil((r) => r.healthy && r.findings.length === 1);
    expect(health.findings.map((f) => f.code)).toEqual(['MIXED_VERSIONS']);
  });

  test('reads, cleans and writes back a data directory; the node keeps its identity', async () => {
    const node = (await cluster.health()).shards[1]!.replicas[0]!.address;
    const runtime = cluster.runtime;
    const id = await withRedis(node, async (r) => String(await r.call('CLUSTER', 'MYID')));
    const tar = await drain(await runtime.readDataDir(node));
    expect(tar.toString('latin1')).toContain('nodes.conf');
    expect(tar.toString('latin1')).toContain('appendonlydir');
    expect(tar.toString('latin1')).not.toContain(password());

    await runtime.stop(node);
    await runtime.cleanDataDir(node);
    expect((await drain(await runtime.readDataDir(node))).toString('latin1')).not.toContain('nodes.conf');
    await runtime.writeDataDir(node, Readable.from([tar]));
    await runtime.start(node);
    expect(await withRedis(node, async (r) => String(await r.call('CLUSTER', 'MYID')))).toBe(id);
    expect((await cluster.healthUntil((r) => r.healthy)).healthy).toBe(true);
  });

  more?.(() => cluster);
}

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
