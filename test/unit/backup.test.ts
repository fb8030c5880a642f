/** The backup model: AOF manifests and RDB headers captured from real Redis 7.0.15 and 8.0.2, retention, restore plans. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { healthyObservations, sampleManifest } from '../helpers/topology';
import {
  AUTO_REWRITE_HELD_FROM, backupAofFiles, heldAutoRewrite, originalAutoRewrite, groupBackups, parseAofManifest, parseClusterNodes, parseNodesConf, nodesConfNodes, nodesConfVars, planBackupSources,
  liveMembersOutside, planRestore, planRetention, rdbKeyCount, restoredNodesConf, serializeAofManifest,
} from '../../src/cluster';
import { validateManifest } from '../../src/cluster/manifestSchema';
import { planScratchPorts, type TakenPorts } from '../../src/cluster/scratch';

const fixture = (version: string, name: string) => readFileSync(join(__dirname, '..', 'fixtures', version, name));

describe.each(['redis-7.0', 'redis-8.0'])('%s', (version) => {
  test('the AOF manifest round-trips, keeping fields a newer Redis adds', () => {
    const text = fixture(version, 'appendonly.aof.manifest').toString('utf8');
    const files = parseAofManifest(text);
    expect(files.map((f) => f.type)).toEqual(['b', 'i']);
    expect(serializeAofManifest(files)).toBe(text);
    const { base, incr } = backupAofFiles([...files, { name: 'appendonly.aof.1.base.rdb', seq: 1, type: 'h' }]);
    expect(base.name).toBe('appendonly.aof.2.base.rdb');
    expect(incr.map((f) => f.name)).toEqual(['appendonly.aof.2.incr.aof']);
  });

  test('the key count of an AOF base comes from its RDB header (aux fields and a function library before it)', () => {
    const rdb = fixture(version, 'aof-base-1235-keys.rdb');
    expect(rdbKeyCount(rdb)).toBe(1235);
    expect(rdbKeyCount(rdb.subarray(0, 40))).toBe('need-more');
    expect(rdbKeyCount(Buffer.from('*2\r\n$6\r\nSELECT\r\n'))).toBeUndefined();
  });
});

test('a manifest without a base file cannot be backed up', () => {
  expect(() => backupAofFiles(parseAofManifest('file appendonly.aof.1.incr.aof seq 1 type i\n'))).toThrow(/no base file/);
  expect(() => parseAofManifest('file x seq 1\n')).toThrow(/line 1/);
});

const nodesText = readFileSync(join(__dirname, '..', 'fixtures', 'redis-7.0', 'cluster-nodes-healthy.txt'), 'utf8');

const observations = healthyObservations;

describe('backup sources', () => {
  test('each shard from its replica first, its master second', () => {
    const plan = planBackupSources(observations(), 'replica');
    expect(plan.problems).toEqual([]);
    expect(plan.shards).toHaveLength(3);
    for (const s of plan.shards) expect(s.candidates.map((c) => c.role)).toEqual(['replica', 'master']);
    expect(plan.nodes).toHaveLength(6);
    expect(plan.currentEpoch).toBe(6);
    expect(planBackupSources(observations(), 'master').shards[0]!.candidates[0]!.role).toBe('master');
  });

  test('a shard with no node answering is named, with its slots', () => {
    const view = parseClusterNodes(nodesText);
    const master = view.find((n) => n.role === 'master')!;
    const replica = view.find((n) => n.masterId === master.id)!;
    const plan = planBackupSources(observations([master.address, replica.address]), 'replica');
    expect(plan.problems).toHaveLength(1);
    expect(plan.problems[0]).toMatch(new RegExp(`slots ${master.slots[0]!.start}-`));
    expect(plan.problems[0]).toContain(`${replica.address} does not answer`);
  });
});

const manifestOf = () => sampleManifest();

describe('restore plans', () => {
  test('a live member outside the restored nodes is named (seen by a target, or answering itself); failed or gone ones are not', () => {
    const observations = healthyObservations();
    const all = observations.map((o) => o.address);
    const [spare, ...targets] = all;
    expect(liveMembersOutside(observations, all)).toEqual([]);
    // The spare answers and the targets see it connected.
    expect(liveMembersOutside(observations, targets)).toEqual([spare]);
    // Seen connected by a target, though it does not answer the worker itself.
    expect(liveMembersOutside(observations.filter((o) => o.address !== spare), targets)).toEqual([spare]);
    // Down: the targets flag it failing and it does not answer.
    const failed = observations
      .filter((o) => o.address !== spare)
      .map((o) => ({ ...o, view: o.view!.map((n) => (n.address === spare ? { ...n, flags: [...n.flags, 'fail'], linkState: 'disconnected' as const } : n)) }));
    expect(liveMembersOutside(failed, targets)).toEqual([]);
    // A cluster that does not answer at all (the disaster a restore is for): nothing to refuse.
    expect(liveMembersOutside(observations.map((o) => ({ address: o.address, error: { kind: 'unreachable' as const, message: 'ECONNREFUSED' } })), targets)).toEqual([]);
  });

  test('onto the same nodes nothing moves; each node keeps its id', () => {
    const manifest = manifestOf();
    const plan = planRestore(manifest, manifest.nodes.map((n) => n.address));
    expect(plan.problems).toEqual([]);
    expect(plan.moved).toEqual({});
    for (const a of plan.assignments) expect(a.toAddress).toBe(manifest.nodes.find((n) => n.id === a.fromId)!.address);
  });

  test('onto new addresses every node gets a nodes.conf with the same ids, epochs and slots, itself flagged myself', () => {
    const manifest = manifestOf();
    const targets = Array.from({ length: 6 }, (_, i) => `127.0.0.1:${41001 + i}`);
    const plan = planRestore(manifest, targets);
    expect(Object.keys(plan.moved)).toHaveLength(6);
    expect(plan.assignments.filter((a) => a.shard !== undefined).map((a) => a.toAddress)).toEqual(targets.slice(0, 3));
    for (const target of targets) {
      const conf = parseNodesConf(restoredNodesConf(manifest, plan, target));
      const nodes = nodesConfNodes(conf);
      expect(nodes.map((n) => n.id).sort()).toEqual(manifest.nodes.map((n) => n.id).sort());
      expect(nodes.filter((n) => n.myself).map((n) => n.address)).toEqual([target]);
      for (const n of nodes) {
        const old = manifest.nodes.find((m) => m.id === n.id)!;
        expect(n.address).toBe(plan.moved[old.address]);
        expect(n.busPort).toBe(n.port + 10000);
        expect(n.configEpoch).toBe(old.configEpoch);
        expect(n.slots).toEqual(old.slots);
        expect(n.masterId).toBe(old.masterId);
      }
      expect(nodesConfVars(conf).currentEpoch).toBe(6);
    }
  });

  test('another node count rebuilds the slot map: masters keep their ids and slots, replicas spread, new ones get new ids', () => {
    const manifest = manifestOf();
    const targets = (n: number) => Array.from({ length: n }, (_, i) => `127.0.0.1:${42001 + i}`);
    expect(planRestore(manifest, targets(2)).problems[0]).toMatch(/3 shards and the cluster lists 2 nodes: list at least 3/);

    const three = planRestore(manifest, targets(3));
    expect(three.mode).toBe('new-shape');
    expect(three.nodes.map((n) => n.role)).toEqual(['master', 'master', 'master']);
    expect(three.nodes.map((n) => n.id)).toEqual(manifest.shards.map((s) => s.masterId));

    const nine = planRestore(manifest, targets(9));
    const masters = nine.nodes.filter((n) => n.role === 'master');
    expect(masters.flatMap((m) => m.slots).reduce((n, r) => n + r.end - r.start + 1, 0)).toBe(16384);
    for (const m of masters) expect(nine.nodes.filter((n) => n.masterId === m.id)).toHaveLength(2);
    const ids = nine.nodes.map((n) => n.id);
    expect(new Set(ids).size).toBe(9);
    expect(ids.filter((id) => manifest.nodes.some((n) => n.id === id))).toHaveLength(6);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{40}$/);
    const conf = nodesConfNodes(parseNodesConf(restoredNodesConf(manifest, nine, targets(9)[8]!)));
    expect(conf).toHaveLength(9);
    expect(conf.filter((n) => n.myself).map((n) => n.address)).toEqual([targets(9)[8]]);
  });
});

describe('retention', () => {
  const day = 86_400_000;
  const now = Date.parse('2026-11-27T03:00:00Z');
  const backups = Array.from({ length: 5 }, (_, i) => ({ backupId: `b${i}`, complete: true, time: new Date(now - i * day).toISOString(), keys: [], bytes: 0 }));

  test('keeps the newest count, or those younger than days; never the newest one', () => {
    expect(planRetention(backups, { count: 2 }, now, 'b0').map((b) => b.backupId)).toEqual(['b2', 'b3', 'b4']);
    expect(planRetention(backups, { days: 2.5 }, now, 'b0').map((b) => b.backupId)).toEqual(['b3', 'b4']);
    expect(planRetention(backups, { count: 1, days: 1.5 }, now, 'b0').map((b) => b.backupId)).toEqual(['b2', 'b3', 'b4']);
    expect(planRetention(backups.slice(3), { days: 1 }, now, 'x').map((b) => b.backupId)).toEqual(['b4']);
  });

  test('an abandoned incomplete backup goes after a day, the one in progress stays', () => {
    const partial = [
      { backupId: 'old', complete: false, time: new Date(now - 2 * day).toISOString(), keys: [], bytes: 0 },
      { backupId: 'running', complete: false, time: new Date(now - 2 * day).toISOString(), keys: [], bytes: 0 },
      { backupId: 'fresh', complete: false, time: new Date(now - 1000).toISOString(), keys: [], bytes: 0 },
    ];
    expect(planRetention(partial, {}, now, 'running').map((b) => b.backupId)).toEqual(['old']);
  });

  test('a store listing is grouped by backup; a manifest marks it complete', () => {
    const grouped = groupBackups('main', [
      { key: 'main/b1/shard-0.tar', size: 10, lastModified: '2026-11-26T00:00:00Z' },
      { key: 'main/b1/manifest.json', size: 1, lastModified: '2026-11-26T00:00:01Z' },
      { key: 'main/b2/shard-0.tar', size: 5, lastModified: '2026-11-27T00:00:00Z' },
      { key: 'main/stray', size: 5, lastModified: '2026-11-27T00:00:00Z' },
    ]);
    expect(grouped.map((b) => [b.backupId, b.complete, b.bytes])).toEqual([['b2', false, 5], ['b1', true, 11]]);
  });
});

test('a held auto-aof-rewrite-percentage carries the operator value back, so a dead backup never leaves its own value as the original', () => {
  for (const original of ['100', '0', '250']) {
    const held = heldAutoRewrite(original);
    expect(Number(held)).toBeGreaterThanOrEqual(AUTO_REWRITE_HELD_FROM);
    expect(Number(held)).toBeLessThanOrEqual(2_147_483_647);
    expect(originalAutoRewrite(held)).toEqual({ original, held: true });
  }
  expect(originalAutoRewrite('100')).toEqual({ original: '100', held: false });
  // Holding twice (a retried attempt) still yields the operator's value.
  expect(heldAutoRewrite(originalAutoRewrite(heldAutoRewrite('70')).original)).toBe(heldAutoRewrite('70'));
});

describe('manifests read from a store', () => {
  const good = () => {
    const m = sampleManifest('main', 'b1');
    return { ...m, shards: m.shards.map((s) => ({ ...s, object: { ...s.object, sha256: 'ab'.repeat(32) } })) };
  };

  test('a well-formed manifest of the backup asked for passes', () => {
    expect(validateManifest(good(), { cluster: 'main', backupId: 'b1' })).toEqual({ manifest: good() });
  });

  test('each bad field is named by its path', () => {
    const m = good();
    const bad = { ...m, format: 2, compression: 'zstd', nodes: [{ ...m.nodes[0]!, id: 'short' }, ...m.nodes.slice(1)], shards: [{ ...m.shards[0]!, keys: -1 }, ...m.shards.slice(1)] };
    const result = validateManifest(bad, { cluster: 'main', backupId: 'b1' });
    expect('problems' in result && result.problems.map((p) => p.split(':')[0])).toEqual(['format', 'compression', 'nodes[0].id', 'shards[0].keys']);
    expect(validateManifest('not an object', { cluster: 'main', backupId: 'b1' })).toEqual({ problems: [expect.stringMatching(/^\(input\): /)] });
  });

  test("a manifest of another backup, or pointing at another backup's objects, is refused", () => {
    const m = good();
    expect(validateManifest(m, { cluster: 'other', backupId: 'b1' })).toMatchObject({ problems: [expect.stringMatching(/^cluster: "main", but it was read as a backup of other/), ...m.shards.map(() => expect.stringMatching(/object\.key: .*\(expected under other\/b1\/\)/))] });
    const elsewhere = { ...m, shards: m.shards.map((s, i) => (i === 2 ? { ...s, object: { ...s.object, key: 'main/b1/../b0/shard-2.tar' } } : s)) };
    expect(validateManifest(elsewhere, { cluster: 'main', backupId: 'b1' })).toEqual({ problems: ['shards[2].object.key: "main/b1/../b0/shard-2.tar" is not an object of this backup (expected under main/b1/)'] });
  });
});

describe('scratch ports', () => {
  const taken: TakenPorts[] = [{ first: 21071, last: 21076, what: "cluster backup's node 127.0.0.1:21071" }, { first: 21100, last: 21100, what: 'x' }];
  const plan = (range: string, basePort?: number, count = 6) => planScratchPorts({ range, field: 'clusters.b.scratchPorts', basePort, count, taken });

  test('the block starts at basePort (default the first of the range) and must fit in it', () => {
    expect(plan('21091-21099')).toEqual({ ports: [21091, 21092, 21093, 21094, 21095, 21096] });
    expect(plan('21091-21099', 21094)).toEqual({ ports: [21094, 21095, 21096, 21097, 21098, 21099] });
    expect(plan('21091-21099', 21095)).toEqual({ problem: 'basePort: 21095 does not fit in clusters.b.scratchPorts (21091-21099) for 6 scratch nodes: pass a basePort from 21091 to 21094' });
    expect(plan('21091-21093')).toEqual({ problem: expect.stringMatching(/has 3 ports, the scratch cluster needs 6/) });
    expect(plan('60000-60010')).toEqual({ problem: expect.stringMatching(/not a usable range/) });
  });

  test('a port or bus port of an inventory address is never used', () => {
    expect(plan('21066-21099', 21066)).toEqual({ problem: expect.stringMatching(/scratch port 21071 would collide with cluster backup's node/) });
    // A scratch bus port on an inventory port, and a scratch port on an inventory bus port.
    expect(plan('11095-11105', 11095)).toEqual({ problem: expect.stringMatching(/^clusters\.b\.scratchPorts: scratch port 11100 \(bus port 21100\) would collide with x in the worker's inventory/) });
    expect(plan('31071-31080', 31071)).toEqual({ problem: expect.stringMatching(/^clusters\.b\.scratchPorts: scratch port 31071 would collide with cluster backup's node/) });
  });
});
