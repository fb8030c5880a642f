/** The state a rebalance carries across continue-as-new is checked like an input: shape, slot numbers, node ids. */
import { rebalanceStateSchema } from '../../src/workflows/rebalanceState';
import { formatIssues } from '../../src/validation';

const from = { id: 'a'.repeat(40), address: '127.0.0.1:7001' };
const to = { id: 'b'.repeat(40), address: '127.0.0.1:7002' };
const move = { from, to, slots: [{ start: 0, end: 99 }] };
const state = {
  plan: { moves: [move], slotsToMove: 100, targets: { [from.id]: 5000, [to.id]: 5100 } },
  masters: [from.address, to.address], remaining: [move], slotsDone: 0, keysMoved: 0, keysReplaced: 0, movingMs: 0, runs: 1,
};
const issues = (value: unknown) => {
  const r = rebalanceStateSchema.safeParse(value);
  return r.success ? [] : formatIssues(r.error);
};

test('a state as a run hands it over is accepted, unchanged', () => {
  expect(rebalanceStateSchema.parse({ ...state, maxKeysPerSecond: 200 })).toEqual({ ...state, maxKeysPerSecond: 200 });
});

test('an empty or forged state is refused, naming each field', () => {
  expect(issues({})).toEqual(expect.arrayContaining([expect.stringMatching(/^plan: /), expect.stringMatching(/^remaining: /), expect.stringMatching(/^runs: /)]));
  expect(issues({ ...state, remaining: [{ ...move, slots: [{ start: 0, end: 16384 }] }] })).toEqual([expect.stringMatching(/^remaining\[0\]\.slots\[0\]\.end: /)]);
  expect(issues({ ...state, remaining: [{ ...move, to: { id: 'x', address: '10.0.0.1:6379' } }] })).toEqual([expect.stringMatching(/^remaining\[0\]\.to\.id: /)]);
  expect(issues({ ...state, remaining: [{ ...move, slots: [{ start: 9, end: 3 }] }] })).toEqual([expect.stringMatching(/^remaining\[0\]\.slots\[0\]: start must not be after end/)]);
  expect(issues({ ...state, skipPreflight: true })).toEqual(['(input): Unrecognized key: "skipPreflight"']);
});
