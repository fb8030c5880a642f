import { createClusterPreflight, layoutInPlace, planClusterLayout } from '../../src/cluster';

const local = (n: number) => Array.from({ length: n }, (_, i) => `127.0.0.1:${7001 + i}`);

test('six local nodes: three masters with even slots and one replica each', () => {
  const layout = planClusterLayout(local(6), 1);
  expect(layout.masters).toEqual([
    { address: '127.0.0.1:7001', slots: '0-5461', configEpoch: 1 },
    { address: '127.0.0.1:7002', slots: '5462-10922', configEpoch: 2 },
    { address: '127.0.0.1:7003', slots: '10923-16383', configEpoch: 3 },
  ]);
  expect(layout.replicas).toEqual([
    { address: '127.0.0.1:7004', masterAddress: '127.0.0.1:7002' },
    { address: '127.0.0.1:7005', masterAddress: '127.0.0.1:7003' },
    { address: '127.0.0.1:7006', masterAddress: '127.0.0.1:7001' },
  ]);
});

test.each([
  ['three hosts, two nodes each', ['a', 'b', 'c'].flatMap((h) => [`${h}:6379`, `${h}:6380`]), 1],
  ['two hosts, three nodes each', ['a', 'b'].flatMap((h) => [`${h}:1`, `${h}:2`, `${h}:3`]), 1],
  ['four hosts, two replicas per master', ['a', 'b', 'c', 'd'].flatMap((h) => [`${h}:1`, `${h}:2`, `${h}:3`]), 2],
  ['uneven hosts', ['a:1', 'a:2', 'a:3', 'b:1', 'b:2', 'c:1'], 1],
])('%s: no replica shares a host with its master', (_name, nodes, replicasPerMaster) => {
  const layout = planClusterLayout(nodes, replicasPerMaster);
  const perMaster = new Map<string, number>();
  for (const r of layout.replicas) {
    expect(r.address.split(':')[0]).not.toBe(r.masterAddress.split(':')[0]);
    perMaster.set(r.masterAddress, (perMaster.get(r.masterAddress) ?? 0) + 1);
  }
  expect([...perMaster.values()]).toEqual(layout.masters.map(() => replicasPerMaster));
});

test('extra nodes become extra replicas; too few nodes are refused with the number needed', () => {
  const layout = planClusterLayout(local(7), 1);
  expect(layout.masters).toHaveLength(3);
  expect(layout.replicas).toHaveLength(4);
  expect(() => planClusterLayout(local(5), 1)).toThrow('give at least 6 nodes');
  expect(() => planClusterLayout(['a:1', 'a:1', 'b:1'], 0)).toThrow('listed twice');
});

test('preflight: unreachable nodes, outsiders and keys are named; known members are fine', () => {
  const problems = createClusterPreflight([
    { address: 'a:1', knows: ['b:1'], slotCount: 0, keys: 0 },
    { address: 'b:1', knows: ['z:9'], slotCount: 0, keys: 3 },
    { address: 'c:1', error: 'connect ECONNREFUSED', knows: [], slotCount: 0, keys: 0 },
  ]);
  expect(problems).toEqual([
    'b:1: already belongs to another cluster (knows z:9); run CLUSTER RESET on it or leave it out',
    'b:1: holds 3 keys; createCluster only builds from empty nodes (FLUSHALL it or leave it out)',
    'c:1: cannot be queried (connect ECONNREFUSED)',
  ]);
});

test('layoutInPlace recognises a finished layout only', () => {
  const layout = planClusterLayout(local(6), 1);
  const probes = local(6).map((address, i) => ({
    address,
    knows: local(6).filter((a) => a !== address),
    slotCount: i < 3 ? [5462, 5461, 5461][i]! : 0,
    keys: 0,
    role: (i < 3 ? 'master' : 'replica') as 'master' | 'replica',
    masterAddress: i < 3 ? undefined : layout.replicas.find((r) => r.address === address)!.masterAddress,
  }));
  expect(layoutInPlace(layout, probes)).toBe(true);
  expect(layoutInPlace(layout, probes.map((p, i) => (i === 5 ? { ...p, masterAddress: '127.0.0.1:7002' } : p)))).toBe(false);
  expect(layoutInPlace(layout, probes.map((p) => ({ ...p, knows: [] })))).toBe(false);
});
