/** repairCluster's decisions on real captured CLUSTER NODES replies and planted slot states. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  deathVerdict,
  diagnoseCluster,
  intersectSlots,
  parseClusterInfo,
  parseClusterNodes,
  planOpenSlot,
  planSlotAssignment,
  repairSnapshot,
  type ClusterNode,
  type NodeObservation,
  type SlotHolder,
} from '../../src/cluster';
import { formatIssues } from '../../src/validation';
import { repairClusterInput, routingCheckInput } from '../../src/workflows/inputs';

const fixture = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', 'redis-7.0', name), 'utf8');
const info = (name: string) => {
  const { raw: _raw, ...clusterInfo } = parseClusterInfo(fixture(name));
  return clusterInfo;
};

/** What the node at `address` answers when its CLUSTER NODES is `reply` seen from itself. */
function answer(address: string, reply: string, infoFile = 'cluster-info-healthy.txt'): NodeObservation {
  const nodes = parseClusterNodes(reply).map((n): ClusterNode => {
    const flags = n.flags.filter((f) => f !== 'myself');
    return n.address === address ? { ...n, myself: true, flags: ['myself', ...flags] } : { ...n, myself: false, flags };
  });
  return { address, clusterInfo: info(infoFile), view: nodes, redisVersion: '7.0.15' };
}

const down = (address: string): NodeObservation => ({ address, error: { kind: 'unreachable', message: `connect ECONNREFUSED ${address}` } });

test('a master and its replica down: both to restart (the master first), its slots uncovered', () => {
  const reply = fixture('cluster-nodes-failed.txt');
  const observations = [
    ...['127.0.0.1:30001', '127.0.0.1:30002', '127.0.0.1:30005', '127.0.0.1:30006'].map((a) => answer(a, reply, 'cluster-info-failed.txt')),
    down('127.0.0.1:30003'),
    down('127.0.0.1:30004'),
  ];
  const d = diagnoseCluster(observations);
  expect(d.down.map((n) => [n.address, n.role, n.slots])).toEqual([
    ['127.0.0.1:30003', 'master', [{ start: 10923, end: 16383 }]],
    ['127.0.0.1:30004', 'replica', []],
  ]);
  expect(d.down[0]!.id).toBe('fb701f1533a22200d08c3093e7110ed9f10fc7ad');
  expect(d.liveMasters.map((m) => m.address)).toEqual(['127.0.0.1:30002', '127.0.0.1:30001']);
  expect(d.uncovered).toEqual([{ start: 10923, end: 16383 }]);
  expect(d.openSlots).toEqual([]);

  const snapshot = repairSnapshot(observations, { masters: 3, replicasPerMaster: 1 });
  expect(snapshot).toMatchObject({ healthy: false, slotsUncovered: '10923-16383', slotsUncoveredCount: 5461, nodesDown: ['127.0.0.1:30003', '127.0.0.1:30004'] });
  expect(snapshot.findings).toEqual(expect.arrayContaining([expect.stringMatching(/^NODE_FAILED 127\.0\.0\.1:30003: master flagged fail/), expect.stringMatching(/^SLOTS_UNCOVERED: 5461 slots/)]));
});

test('an interrupted move: the slot is open on both sides, and nothing else is wrong', () => {
  const migrating = fixture('cluster-nodes-migrating.txt');
  const importing = fixture('cluster-nodes-importing.txt');
  const observations = [
    answer('127.0.0.1:30001', migrating),
    answer('127.0.0.1:30002', importing),
    ...['127.0.0.1:30003', '127.0.0.1:30004', '127.0.0.1:30005', '127.0.0.1:30006'].map((a) => answer(a, importing.replace(/ \[100-<-[0-9a-f]+\]/, ''))),
  ];
  const d = diagnoseCluster(observations);
  expect(d.openSlots).toEqual([100]);
  expect(d.down).toEqual([]);
  expect(d.uncovered).toEqual([]);
  expect(d.liveMasters).toHaveLength(3);
});

const A = { id: 'a'.repeat(40), address: 'h:1' };
const B = { id: 'b'.repeat(40), address: 'h:2' };
const C = { id: 'c'.repeat(40), address: 'h:3' };
const holder = (n: typeof A, keys: number, extra: Partial<SlotHolder> = {}): SlotHolder => ({ ...n, owns: false, keys, ...extra });

test('an interrupted move with keys on the target is finished: the rest of the keys follow them', () => {
  const plan = planOpenSlot({ slot: 7, holders: [holder(A, 40, { owns: true, migratingTo: B.id }), holder(B, 10, { importingFrom: A.id }), holder(C, 0, { owns: false })] }, A);
  expect(plan).toMatchObject({ slot: 7, action: 'finish', owner: B, keysToMove: 40 });
  expect(plan.why).toContain('10 keys already on the target');
});

test('an interrupted move before any key arrived is undone: the slot stays with its owner', () => {
  const plan = planOpenSlot({ slot: 7, holders: [holder(A, 40, { owns: true, migratingTo: B.id }), holder(B, 0, { importingFrom: A.id }), holder(C, 0)] }, A);
  expect(plan).toMatchObject({ action: 'undo', owner: A, keysToMove: 0 });
  // Nothing anywhere: undone too, nothing moves.
  expect(planOpenSlot({ slot: 7, holders: [holder(A, 0, { owns: true, migratingTo: B.id }), holder(B, 0, { importingFrom: A.id })] }, A)).toMatchObject({ action: 'undo', owner: A });
});

test('a slot open on one side only is closed on its owner, which gets back keys found elsewhere', () => {
  expect(planOpenSlot({ slot: 9, holders: [holder(A, 3, { owns: true, migratingTo: B.id }), holder(B, 0)] }, A)).toMatchObject({ action: 'close', owner: A, keysToMove: 0 });
  const importingOnly = planOpenSlot({ slot: 9, holders: [holder(A, 3, { owns: true }), holder(C, 2, { importingFrom: A.id })] }, A);
  expect(importingOnly).toMatchObject({ action: 'close', owner: A, keysToMove: 2 });
  expect(importingOnly.why).toBe('open on one side only (IMPORTING on h:3): h:1 keeps it and gets back the keys found elsewhere');
});

test('an open slot without a live owner is only cleared, its keys left where they are for the assignment', () => {
  const plan = planOpenSlot({ slot: 9, holders: [holder(B, 5, { importingFrom: A.id }), holder(C, 0)] }, undefined);
  expect(plan).toMatchObject({ action: 'clear', keysToMove: 0 });
  expect(plan.owner).toBeUndefined();
  expect(plan.why).toContain('(5 on h:2)');
});

test('uncovered slots: those with keys go to the master holding most of them, the rest in one block to the emptiest master', () => {
  const masters = [
    { ...A, slots: [{ start: 0, end: 5460 }] },
    { ...B, slots: [{ start: 5461, end: 10000 }] },
  ];
  const plan = planSlotAssignment(
    [{ start: 10922, end: 16383 }],
    [
      { slot: 12000, address: 'h:1', keys: 3 },
      { slot: 12000, address: 'h:2', keys: 1 },
      { slot: 13000, address: 'h:2', keys: 2 },
      { slot: 100, address: 'h:1', keys: 9 }, // not uncovered: ignored
      { slot: 14000, address: 'h:9', keys: 9 }, // not a live master: ignored
    ],
    masters,
  );
  expect(plan).toEqual([
    { master: A, slots: [{ start: 12000, end: 12000 }], slotCount: 1, slotsWithKeys: 1, keys: 3 },
    { master: B, slots: [{ start: 10922, end: 11999 }, { start: 12001, end: 16383 }], slotCount: 5461, slotsWithKeys: 1, keys: 2 },
  ]);
  expect(planSlotAssignment([], [], masters)).toEqual([]);
  expect(() => planSlotAssignment([{ start: 0, end: 1 }], [], [])).toThrow(/no live master/);
});

test('intersectSlots', () => {
  expect(intersectSlots([{ start: 0, end: 100 }, { start: 200, end: 300 }], [{ start: 50, end: 250 }])).toEqual([{ start: 50, end: 100 }, { start: 200, end: 250 }]);
  expect(intersectSlots([{ start: 0, end: 10 }], [{ start: 11, end: 20 }])).toEqual([]);
});

test('a member replaced by another node at its address is named, not restarted', () => {
  const reply = fixture('cluster-nodes-failed.txt');
  const stranger: NodeObservation = { address: '127.0.0.1:30003', clusterInfo: info('cluster-info-failed.txt'), view: parseClusterNodes(`${'9'.repeat(40)} 127.0.0.1:30003@40003 myself,master - 0 0 0 connected`) };
  const d = diagnoseCluster([...['127.0.0.1:30001', '127.0.0.1:30002'].map((a) => answer(a, reply)), stranger]);
  expect(d.down.map((n) => n.address)).not.toContain('127.0.0.1:30003');
  expect(d.notes[0]).toBe('127.0.0.1:30003 answers as node 99999999, not as member fb701f15: the member was replaced (an empty node?); remove it with removeNode fb701f1533a22200d08c3093e7110ed9f10fc7ad and join the new one with addNode');
  expect(d.uncovered).toEqual([{ start: 10923, end: 16383 }]);
});

test('bad input names the field and the fix', () => {
  const issues = (input: unknown) => {
    const r = repairClusterInput.safeParse(input);
    return r.success ? [] : formatIssues(r.error);
  };
  expect(issues({ cluster: 'main', assignUncovered: 'yes', timeoutSeconds: 1, extra: 1 })).toEqual([
    'assignUncovered: expected true or false: true gives slots nobody serves to live masters (after an approval)',
    'timeoutSeconds: at least 5 seconds',
    '(input): Unrecognized key: "extra"',
  ]);
  const routing = routingCheckInput.safeParse({ cluster: 'main', keysPerRange: 0, endpoint: 'envoy' });
  expect(routing.success ? [] : formatIssues(routing.error)).toEqual(['keysPerRange: at least 1 key per slot range', "endpoint: not an input: the endpoint comes from clusters.<cluster>.clientEndpoint in the worker's inventory; set it there"]);
});

test('a master only this worker cannot reach (no other master flags it fail): not dead, its slots are not uncovered', () => {
  // The same cluster as above, seen before the others agreed: 30003 does not answer the worker, but no view flags it.
  const reply = fixture('cluster-nodes-failed.txt').replace(/master,fail /g, 'master ').replace(/slave,fail /g, 'slave ');
  const observations = [
    ...['127.0.0.1:30001', '127.0.0.1:30002', '127.0.0.1:30004', '127.0.0.1:30005', '127.0.0.1:30006'].map((a) => answer(a, reply)),
    down('127.0.0.1:30003'),
  ];
  const d = diagnoseCluster(observations);
  expect(d.down.map((n) => n.address)).toEqual(['127.0.0.1:30003']);
  expect(d.uncovered).toEqual([]);
  expect(d.unconfirmed.map((n) => n.address)).toEqual(['127.0.0.1:30003']);
  expect(d.notes.join('\n')).toContain('only 0 of the 2 other masters flag it failed');
  expect(repairSnapshot(observations, { masters: 3, replicasPerMaster: 1 })).toMatchObject({ slotsUncoveredCount: 0, mastersUnconfirmed: ['127.0.0.1:30003'] });

  // One of the two other masters flags it: still no majority.
  const OTHER_MASTERS = ['7fc3517abcae00b541a7ae87b73697c520a30275', '624906bf0e18613f700e1dbbe477939ffc6214a6'];
  const oneVote = reply.replace(/^(\S+ 127\.0\.0\.1:30003\S* )master /m, '$1master,fail ');
  const split = [answer('127.0.0.1:30001', oneVote), ...observations.slice(1)];
  expect(deathVerdict(split, 'fb701f1533a22200d08c3093e7110ed9f10fc7ad', OTHER_MASTERS)).toMatchObject({ dead: false, flaggingFail: ['127.0.0.1:30001'], otherMasters: 2 });
  const both = [answer('127.0.0.1:30001', oneVote), answer('127.0.0.1:30002', oneVote), ...observations.slice(2)];
  expect(deathVerdict(both, 'fb701f1533a22200d08c3093e7110ed9f10fc7ad', OTHER_MASTERS)).toMatchObject({ dead: true, flaggingFail: ['127.0.0.1:30001', '127.0.0.1:30002'], otherMasters: 2 });
  expect(diagnoseCluster(both).uncovered).toEqual([{ start: 10923, end: 16383 }]);
});
