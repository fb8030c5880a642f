/** The cluster model on replies captured from real Redis 7.0.15 and 8.0.2 clusters (test/fixtures). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  countSlots, flattenInfo, isFailing, nodesConfNodes, nodesConfVars, parseClusterInfo, parseClusterNodes, parseInfo,
  parseNodesConf, parseReplicationInfo, rewriteNodesConfAddresses, serializeNodesConf,
} from '../../src/cluster';

const fixture = (version: string, name: string) => readFileSync(join(__dirname, '..', 'fixtures', version, name), 'utf8');
const VERSIONS = ['redis-7.0', 'redis-8.0'] as const;

describe.each(VERSIONS)('%s', (version) => {
  test('CLUSTER NODES of a healthy cluster: roles, slots, myself, epochs', () => {
    const nodes = parseClusterNodes(fixture(version, 'cluster-nodes-healthy.txt'));
    expect(nodes).toHaveLength(6);
    const masters = nodes.filter((n) => n.role === 'master');
    expect(masters).toHaveLength(3);
    expect(countSlots(masters.flatMap((m) => m.slots))).toBe(16384);
    expect(nodes.filter((n) => n.myself)).toHaveLength(1);
    for (const r of nodes.filter((n) => n.role === 'replica')) expect(masters.map((m) => m.id)).toContain(r.masterId);
    for (const n of nodes) {
      expect(n.id).toMatch(/^[0-9a-f]{40}$/);
      expect(n.address).toMatch(/^127\.0\.0\.1:300\d\d$/);
      expect(n.busPort).toBe(n.port + 10000);
      expect(n.linkState).toBe('connected');
      expect(isFailing(n)).toBe(false);
    }
  });

  test('open-slot markers on the migrating and the importing node', () => {
    const migrating = parseClusterNodes(fixture(version, 'cluster-nodes-migrating.txt')).find((n) => n.myself)!;
    const importing = parseClusterNodes(fixture(version, 'cluster-nodes-importing.txt')).find((n) => n.myself)!;
    expect(migrating.migrating).toEqual([{ slot: 100, peerId: importing.id }]);
    expect(migrating.importing).toEqual([]);
    expect(importing.importing).toEqual([{ slot: 100, peerId: migrating.id }]);
    expect(migrating.slots).toEqual([{ start: 0, end: 5460 }]);
  });

  test('fail flags and disconnected links after a master and a replica stopped', () => {
    const nodes = parseClusterNodes(fixture(version, 'cluster-nodes-failed.txt'));
    const failed = nodes.filter((n) => n.flags.includes('fail'));
    expect(failed.map((n) => n.role).sort()).toEqual(['master', 'replica']);
    for (const f of failed) {
      expect(f.linkState).toBe('disconnected');
      expect(f.pingSent).toBeGreaterThan(0);
    }
    const info = parseClusterInfo(fixture(version, 'cluster-info-failed.txt'));
    expect(info).toMatchObject({ state: 'fail', slotsAssigned: 16384, knownNodes: 6, size: 3 });
    expect(info.slotsFail + info.slotsPfail).toBeGreaterThan(0);
  });

  test('CLUSTER INFO of a healthy cluster', () => {
    expect(parseClusterInfo(fixture(version, 'cluster-info-healthy.txt'))).toMatchObject({
      state: 'ok', slotsAssigned: 16384, slotsOk: 16384, slotsPfail: 0, slotsFail: 0, knownNodes: 6, size: 3,
    });
  });

  test('INFO sections: server version and replication', () => {
    const replica = parseInfo(fixture(version, 'info-replica.txt'));
    expect(flattenInfo(replica).redis_version).toBe(version === 'redis-7.0' ? '7.0.15' : '8.0.2');
    // The 8.0 capture was taken before the replica's first sync had finished.
    expect(parseReplicationInfo(replica)).toMatchObject({ role: 'replica', masterLinkUp: version === 'redis-7.0', masterSyncInProgress: false });
    const master = parseInfo(fixture(version, 'info-master.txt'));
    expect(parseReplicationInfo(master)).toMatchObject({ role: 'master', masterLinkUp: null, connectedReplicas: 1 });
    expect(master.cluster).toEqual({ cluster_enabled: '1' });
  });

  test.each(['nodes.conf-master.txt', 'nodes.conf-replica.txt', 'nodes.conf-migrating.txt'])('nodes.conf %s round-trips byte for byte', (name) => {
    const text = fixture(version, name);
    const conf = parseNodesConf(text);
    expect(serializeNodesConf(conf)).toBe(text);
    expect(nodesConfNodes(conf)).toHaveLength(6);
    expect(nodesConfVars(conf)).toEqual({ currentEpoch: 6, lastVoteEpoch: 0 });
  });

  test('nodes.conf addresses are rewritten, keeping ids, epochs, slots, bus offset and aux fields', () => {
    const text = fixture(version, 'nodes.conf-migrating.txt');
    const before = nodesConfNodes(parseNodesConf(text));
    const moves = Object.fromEntries(before.map((n) => [n.address, `10.1.2.${n.port % 100}:6379`]));
    const rewritten = rewriteNodesConfAddresses(parseNodesConf(text), moves);
    const after = nodesConfNodes(rewritten);
    expect(after.map((n) => n.address)).toEqual(before.map((n) => `10.1.2.${n.port % 100}:6379`));
    expect(after.map((n) => n.busPort)).toEqual(after.map(() => 16379));
    expect(after.map((n) => [n.id, n.flags, n.configEpoch, n.slots, n.migrating, n.aux])).toEqual(
      before.map((n) => [n.id, n.flags, n.configEpoch, n.slots, n.migrating, n.aux]),
    );
    const serialized = serializeNodesConf(rewritten);
    expect(serialized.endsWith('vars currentEpoch 6 lastVoteEpoch 0\n')).toBe(true);
    // Rewriting back restores the original bytes.
    const back = Object.fromEntries(Object.entries(moves).map(([from, to]) => [to, from]));
    expect(serializeNodesConf(rewriteNodesConfAddresses(parseNodesConf(serialized), back))).toBe(text);
  });
});

test('Redis 8 aux fields: shard-id and tls-port, and an empty hostname', () => {
  const nodes = nodesConfNodes(parseNodesConf(fixture('redis-8.0', 'nodes.conf-master.txt')));
  for (const n of nodes) {
    expect(n.aux['shard-id']).toMatch(/^[0-9a-f]{40}$/);
    expect(n.aux['tls-port']).toBe('0');
    expect(n.hostname).toBeUndefined();
  }
  const replica = nodes.find((n) => n.role === 'replica')!;
  expect(replica.aux['shard-id']).toBe(nodes.find((n) => n.id === replica.masterId)!.aux['shard-id']);
});

test('a hostname and pfail/handshake flags', () => {
  const [node] = parseClusterNodes('07c37dfeb235213a872192d90877d0cd55635b91 10.0.0.5:6379@16379,redis-3.example fail?,handshake - 1 0 0 disconnected');
  expect(node).toMatchObject({ host: '10.0.0.5', port: 6379, busPort: 16379, hostname: 'redis-3.example', flags: ['fail?', 'handshake'], role: 'master', masterId: null, slots: [] });
  expect(isFailing(node!)).toBe(true);
  const [noaddr] = parseClusterNodes('07c37dfeb235213a872192d90877d0cd55635b91 :0@0 master,noaddr - 1 0 3 disconnected 5-9');
  expect(noaddr).toMatchObject({ address: '', flags: ['master', 'noaddr'], slots: [{ start: 5, end: 9 }] });
});
