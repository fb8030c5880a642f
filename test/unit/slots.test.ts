import {
  countSlots, formatSlotRanges, keyHashSlot, normalizeRanges, parseSlotRange, rangesFromSlots, slotInRanges, slotsOf, splitSlotsEvenly, uncoveredSlots,
} from '../../src/cluster';

test('parses and formats single slots and ranges', () => {
  expect(parseSlotRange('0-5460')).toEqual({ start: 0, end: 5460 });
  expect(parseSlotRange('100')).toEqual({ start: 100, end: 100 });
  expect(formatSlotRanges([{ start: 0, end: 5 }, { start: 9, end: 9 }])).toBe('0-5,9');
  expect(() => parseSlotRange('5-1')).toThrow(/out of bounds/);
  expect(() => parseSlotRange('16384')).toThrow(/out of bounds/);
  expect(() => parseSlotRange('[100->-abc]')).toThrow(/not a slot range/);
});

test('merges, counts and finds gaps', () => {
  expect(normalizeRanges([{ start: 10, end: 20 }, { start: 0, end: 9 }, { start: 15, end: 30 }])).toEqual([{ start: 0, end: 30 }]);
  expect(rangesFromSlots([5, 3, 4, 9])).toEqual([{ start: 3, end: 5 }, { start: 9, end: 9 }]);
  expect(uncoveredSlots([{ start: 0, end: 5460 }, { start: 10923, end: 16383 }])).toEqual([{ start: 5461, end: 10922 }]);
  expect(uncoveredSlots([])).toEqual([{ start: 0, end: 16383 }]);
  expect(countSlots(uncoveredSlots([{ start: 0, end: 16383 }]))).toBe(0);
});

test('splits 16384 slots evenly, sizes differing by at most one', () => {
  const three = splitSlotsEvenly(3);
  expect(three).toEqual([{ start: 0, end: 5461 }, { start: 5462, end: 10922 }, { start: 10923, end: 16383 }]);
  for (const n of [1, 3, 4, 5, 7, 100]) {
    const parts = splitSlotsEvenly(n);
    expect(countSlots(parts)).toBe(16384);
    expect(uncoveredSlots(parts)).toEqual([]);
    const sizes = parts.map((p) => p.end - p.start + 1);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  }
});

test('computes CLUSTER KEYSLOT, hash tags included (values from a real Redis 7.0)', () => {
  expect(keyHashSlot('foo')).toBe(12182);
  expect(keyHashSlot('123456789')).toBe(12739);
  expect(keyHashSlot('42')).toBe(8000);
  expect(keyHashSlot('user:{42}:name')).toBe(8000);
  expect(keyHashSlot('{}x')).toBe(10595);
  expect(keyHashSlot('x')).toBe(16287);
  expect(keyHashSlot('héllo')).toBe(11061);
});

test('tells whether a slot lies in any of several ranges, ends included', () => {
  const ranges = [{ start: 0, end: 99 }, { start: 5000, end: 5000 }];
  expect([0, 99, 100, 4999, 5000, 5001, 16383].map((s) => slotInRanges(s, ranges))).toEqual([true, true, false, false, true, false, false]);
  expect(slotInRanges(7, [])).toBe(false);
});

test('lists the slots of overlapping and unordered ranges once each, ascending', () => {
  expect(slotsOf([{ start: 8, end: 10 }, { start: 2, end: 3 }, { start: 9, end: 12 }, { start: 3, end: 3 }])).toEqual([2, 3, 8, 9, 10, 11, 12]);
  expect(slotsOf([])).toEqual([]);
});
