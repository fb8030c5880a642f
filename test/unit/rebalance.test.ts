import { countSlots, planRebalance, slotTargets, splitSlotsEvenly, type MasterSlots } from '../../src/cluster';

const three = (): MasterSlots[] => splitSlotsEvenly(3).map((r, i) => ({ id: `m${i + 1}`, address: `h:${i + 1}`, slots: [r] }));

test('targets follow the weights and add up to 16384', () => {
  expect(slotTargets({ a: 1, b: 1, c: 1 })).toEqual({ a: 5462, b: 5461, c: 5461 });
  expect(slotTargets({ a: 1, b: 1, c: 1, d: 1 })).toEqual({ a: 4096, b: 4096, c: 4096, d: 4096 });
  expect(slotTargets({ a: 2, b: 1, c: 0 })).toEqual({ a: 10923, b: 5461, c: 0 });
  expect(() => slotTargets({ a: 0 })).toThrow(/weight above 0/);
});

test('a balanced cluster moves nothing', () => {
  expect(planRebalance(three()).moves).toEqual([]);
});

test('an empty fourth master receives a quarter of the slots from all three', () => {
  const masters = [...three(), { id: 'm4', address: 'h:4', slots: [] }];
  const plan = planRebalance(masters);
  expect(plan.slotsToMove).toBe(4096);
  expect(plan.targets).toEqual({ m1: 4096, m2: 4096, m3: 4096, m4: 4096 });
  expect(new Set(plan.moves.map((m) => m.to.id))).toEqual(new Set(['m4']));
  expect(plan.moves.map((m) => m.from.id).sort()).toEqual(['m1', 'm2', 'm3']);
  // Donors give their highest slots: m1 keeps 0-4095.
  expect(plan.moves.find((m) => m.from.id === 'm1')!.slots).toEqual([{ start: 4096, end: 5461 }]);
});

test('useEmptyMasters false leaves an empty master out', () => {
  expect(planRebalance([...three(), { id: 'm4', address: 'h:4', slots: [] }], { useEmptyMasters: false }).moves).toEqual([]);
});

test('weight 0 drains a master onto the others', () => {
  const masters = [...three(), { id: 'm4', address: 'h:4', slots: [] }];
  const plan = planRebalance(masters, { weights: { m2: 0 } });
  expect(plan.targets.m2).toBe(0);
  expect(plan.moves.every((m) => m.from.id === 'm2')).toBe(true);
  expect(countSlots(plan.moves.flatMap((m) => m.slots))).toBe(5461);
  expect(Object.values(plan.targets).reduce((a, b) => a + b, 0)).toBe(16384);
});

test('small imbalances under the threshold are left alone', () => {
  const masters: MasterSlots[] = [
    { id: 'a', address: 'h:1', slots: [{ start: 0, end: 5499 }] },
    { id: 'b', address: 'h:2', slots: [{ start: 5500, end: 10922 }] },
    { id: 'c', address: 'h:3', slots: [{ start: 10923, end: 16383 }] },
  ];
  expect(planRebalance(masters).moves).toEqual([]);
  expect(planRebalance(masters, { thresholdPercent: 0.1 }).slotsToMove).toBe(38);
});
