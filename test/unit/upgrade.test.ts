/** The rolling upgrade's pure decisions, on observations built from a real captured CLUSTER NODES reply. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  analyzeHealth, findingKey, healthDrop, parseClusterInfo, parseClusterNodes, parseInfo, parseReplicationInfo, planUpgrade, targetEngineVersion,
  replicaSyncProblems, versionMismatches, versionTable, type ClusterNode, type NodeObservation,
} from '../../src/cluster';

const fixture = (version: string, name: string) => readFileSync(join(__dirname, '..', 'fixtures', version, name), 'utf8');
const M1 = '127.0.0.1:30001';
const M2 = '127.0.0.1:30002';
const M3 = '127.0.0.1:30003';
const R1 = '127.0.0.1:30005';
const R2 = '127.0.0.1:30006';
const R3 = '127.0.0.1:30004';
const ID = { m1: '7fc3517abcae00b541a7ae87b73697c520a30275', m2: '624906bf0e18613f700e1dbbe477939ffc6214a6', r1: '5ecd0a2e722a1b37049849d1fbe8b25959768e34' };

/** Every node's view of the healthy 3x1 cluster; `edit` changes one node's view of the others. */
function observe(edit: (me: ClusterNode, n: ClusterNode) => ClusterNode = (_me, n) => n, offsets: Record<string, number> = {}): NodeObservation[] {
  const base = parseClusterNodes(fixture('redis-7.0', 'cluster-nodes-healthy.txt')).map((n) => ({ ...n, myself: false, flags: n.flags.filter((f) => f !== 'myself') }));
  const { raw: _raw, ...clusterInfo } = parseClusterInfo(fixture('redis-7.0', 'cluster-info-healthy.txt'));
  const replicaInfo = parseReplicationInfo(parseInfo(fixture('redis-7.0', 'info-replica.txt')));
  return base.map((me) => ({
    address: me.address,
    clusterInfo,
    view: base.map((n): ClusterNode => edit(me, n.id === me.id ? { ...n, myself: true, flags: ['myself', ...n.flags] } : n)),
    replication: me.role === 'replica' ? { ...replicaInfo, replicationOffset: offsets[me.address] ?? 1000 } : { role: 'master', masterLinkUp: null, masterSyncInProgress: false, connectedReplicas: 1, replicationOffset: offsets[me.address] ?? 1000 },
    redisVersion: '7.0.15',
  }));
}

const all = (version: string, except: Record<string, string> = {}) => Object.fromEntries([M1, M2, M3, R1, R2, R3].map((a) => [a, except[a] ?? version]));

test('from 7.0.15: every shard replaces its replica, fails over to it and replaces the old master', () => {
  const plan = planUpgrade(observe(), all('7.0.15'), '8.0.2');
  expect(plan.shards.map((s) => [s.slots, s.master.address, s.replaceReplicas.map((r) => r.address), s.replaceMaster, s.failoverTo?.address, s.downtime])).toEqual([
    ['0-5460', M1, [R1], true, R1, false],
    ['5461-10922', M2, [R2], true, R2, false],
    ['10923-16383', M3, [R3], true, R3, false],
  ]);
  expect(plan.waves).toEqual([[0], [1], [2]]);
  expect(plan).toMatchObject({ nodesToReplace: 6, alreadyUpgraded: [], spares: [] });
  expect(planUpgrade(observe(), all('7.0.15'), '8.0.2', 2).waves).toEqual([[0, 1], [2]]);
});

test('a re-run skips what is on the target already: a done shard, and a shard whose replica is done', () => {
  const plan = planUpgrade(observe(), all('7.0.15', { [M1]: '8.0.2', [R1]: '8.0.2', [R2]: '8.0.2' }), '8.0.2');
  expect(plan.shards.map((s) => [s.slots, s.replaceReplicas.map((r) => r.address), s.replaceMaster])).toEqual([
    ['5461-10922', [], true],
    ['10923-16383', [R3], true],
  ]);
  expect(plan.alreadyUpgraded).toEqual([M1, R1, R2]);
  expect(plan.nodesToReplace).toBe(3);
  expect(planUpgrade(observe(), all('8.0.2'), '8.0.2')).toMatchObject({ shards: [], waves: [], nodesToReplace: 0 });
});

test('a shard without a working replica is restarted in place: downtime', () => {
  // R1 flagged fail by everyone: shard 0-5460 has no replica to fail over to.
  const plan = planUpgrade(observe((_me, n) => (n.id === ID.r1 ? { ...n, flags: [...n.flags, 'fail'] } : n)), all('7.0.15'), '8.0.2');
  expect(plan.shards[0]).toMatchObject({ slots: '0-5460', replicas: [], replaceReplicas: [], failoverTo: undefined, downtime: true });
  expect(plan.shards[1]!.downtime).toBe(false);
});

describe('a replica in sync', () => {
  test('link up, known by every master, no flag, caught up: no problem', () => {
    expect(replicaSyncProblems(observe(), R1, ID.m1, 1000)).toEqual([]);
  });

  test('behind its master: the offset read afterwards must reach the one the master had', () => {
    expect(replicaSyncProblems(observe(undefined, { [M1]: 5000 }), R1, ID.m1, 4000)).toEqual([`${R1} is 1000 bytes behind ${M1}`]);
    expect(replicaSyncProblems(observe(undefined, { [M1]: 5000 }), R1, ID.m1, 5100)).toEqual([]);
  });

  test('not yet its replica, not known so by a majority of masters, flagged failing, unreachable', () => {
    expect(replicaSyncProblems(observe(), R1, ID.m2)).toEqual([`${R1} is not a replica of ${M2} yet`]);
    // Two of three masters still think R1 is a master of nothing (it was just restarted).
    const stale = observe((me, n) => (n.id === ID.r1 && !me.myself && me.address !== M1 && me.role === 'master' ? { ...n, role: 'master', masterId: null } : n));
    expect(replicaSyncProblems(stale, R1, ID.m1)).toEqual([`${R1} is known as a replica of ${M1} by 1 of 3 masters`]);
    const flagged = observe((me, n) => (n.id === ID.r1 && me.address === M2 ? { ...n, flags: [...n.flags, 'fail?'] } : n));
    expect(replicaSyncProblems(flagged, R1, ID.m1)).toEqual([`${R1} is flagged failing by 1 node(s)`]);
    const gone = observe().map((o) => (o.address === R1 ? { address: R1, error: { kind: 'unreachable' as const, message: 'connect ECONNREFUSED' } } : o));
    expect(replicaSyncProblems(gone, R1, ID.m1)).toEqual([`${R1} cannot be queried (connect ECONNREFUSED)`]);
  });

  test('link down', () => {
    const down = observe().map((o) => (o.address === R1 ? { ...o, replication: { ...o.replication!, masterLinkUp: false } } : o));
    expect(replicaSyncProblems(down, R1, ID.m1)).toEqual([`${R1} has master_link_status:down`]);
  });
});

test('a health drop is a finding the baseline did not have; informational ones never count', () => {
  const healthy = analyzeHealth(observe(), { masters: 3, replicasPerMaster: 1 });
  expect(healthDrop([], healthy)).toEqual([]);
  const mixed = analyzeHealth(observe().map((o) => (o.address === R1 ? { ...o, redisVersion: '8.0.2' } : o)), { masters: 3, replicasPerMaster: 1 });
  expect(mixed.findings.map((f) => f.code)).toEqual(['MIXED_VERSIONS']);
  expect(healthDrop([], mixed)).toEqual([]);
  const lost = analyzeHealth(observe().map((o) => (o.address === R2 ? { address: R2, error: { kind: 'unreachable' as const, message: 'refused' } } : o)), { masters: 3, replicasPerMaster: 1 });
  const drop = healthDrop([], lost);
  expect(drop.map(findingKey)).toContain(`NODE_UNREACHABLE ${R2}`);
  expect(healthDrop(lost.findings.map(findingKey), lost)).toEqual([]);
});

test('the end check: every node on the target, reporting the version the target names', () => {
  const done = [M1, M2].map((address) => ({ address, version: '8.0.2', redisVersion: '8.0.2' }));
  expect(versionMismatches(done, '8.0.2')).toEqual([]);
  expect(versionMismatches([...done, { address: R1, version: '7.0.15', redisVersion: '7.0.15' }], '8.0.2')).toEqual([
    `${R1} runs 7.0.15, not 8.0.2`,
    `${R1} reports redis_version 7.0.15, expected 8.0.2`,
  ]);
  expect(versionMismatches([{ address: R1, version: '8.0.2' }], '8.0.2')).toEqual([`${R1} did not report its redis_version`]);
  // A target that names no version: the nodes must at least agree.
  expect(versionMismatches([{ address: M1, version: 'next', redisVersion: '8.0.2' }, { address: M2, version: 'next', redisVersion: '8.0.3' }], 'next')).toEqual([
    'nodes report different redis_version values: 8.0.2, 8.0.3',
  ]);
  expect(['8.0.2', '8.0.2-alpine', 'latest', '8.0.20'].map((t) => targetEngineVersion(t)?.version)).toEqual(['8.0.2', '8.0.2', undefined, '8.0.20']);
});

test('the Web UI table lists each node with its role and version', () => {
  const table = versionTable([{ address: M2, role: 'master', version: '8.0.2', redisVersion: '8.0.2' }, { address: M1, role: 'replica', version: '7.0.15', redisVersion: '7.0.15' }], '8.0.2');
  expect(table.split('\n')).toEqual([
    '| node | role | version | redis_version |',
    '|---|---|---|---|',
    `| ${M1} | replica | 7.0.15 | 7.0.15 |`,
    `| ${M2} | master | 8.0.2 (target) | 8.0.2 |`,
  ]);
});
