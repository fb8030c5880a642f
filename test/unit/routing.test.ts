/** routingCheck's pure parts: probe keys per slot range, redirect replies, the runbook's advice. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { judgeRouting, keyHashSlot, parseClusterNodes, parseRedirect, routingProbes, type RangeResult } from '../../src/cluster';

const view = parseClusterNodes(readFileSync(join(__dirname, '..', 'fixtures', 'redis-7.0', 'cluster-nodes-healthy.txt'), 'utf8'));

test('probe keys fall in the slot range they probe, one range per master range, in slot order', () => {
  const probes = routingProbes(view, 3, 'run1');
  expect(probes.map((p) => p.range)).toEqual(['0-5460', '5461-10922', '10923-16383']);
  for (const p of probes) {
    const [start, end] = p.range.split('-').map(Number) as [number, number];
    expect(p.keys).toHaveLength(3);
    for (const k of p.keys) expect(keyHashSlot(k) >= start && keyHashSlot(k) <= end).toBe(true);
    expect(new Set(p.keys).size).toBe(3);
  }
  expect(probes[0]!.keys[0]).toMatch(/^redisforge:canary:routing-run1:\{c\d+\}$/);
});

test('redirect replies', () => {
  expect(parseRedirect('MOVED 3999 127.0.0.1:6381')).toEqual({ kind: 'MOVED', slot: 3999, address: '127.0.0.1:6381' });
  expect(parseRedirect('ASK 12 10.0.0.2:7002')).toEqual({ kind: 'ASK', slot: 12, address: '10.0.0.2:7002' });
  expect(parseRedirect('CLUSTERDOWN Hash slot not served')).toBeUndefined();
});

const result = (range: string, owner: string, seen: Partial<RangeResult>): RangeResult => ({ range, owner, keys: 3, ok: 0, moved: 0, ask: 0, errors: 0, ...seen });

test('through the proxy: no redirect is what applications need; MOVED means the proxy is not cluster-aware', () => {
  const good = judgeRouting('proxy', 'envoy:6379', [result('0-5460', 'h:1', { ok: 3 }), result('5461-16383', 'h:2', { ok: 3 })]);
  expect(good).toMatchObject({ asExpected: true, redirectedRanges: [] });
  const bad = judgeRouting('proxy', 'envoy:6379', [result('0-5460', 'h:1', { ok: 3 }), result('5461-16383', 'h:2', { moved: 3, redirectedTo: 'h:2' })]);
  expect(bad).toMatchObject({ asExpected: false, redirectedRanges: ['5461-16383'] });
  expect(bad.advice).toContain('MOVED/ASK reached the client through envoy:6379 for 5461-16383 (h:2): the proxy is not cluster-aware or misroutes');
});

test('against a single node: MOVED for the other masters\' ranges is expected, and the app needs a cluster-aware client', () => {
  const ranges = [result('0-5460', 'h:1', { ok: 3 }), result('5461-16383', 'h:2', { moved: 3 })];
  const v = judgeRouting('node', 'h:1', ranges);
  expect(v).toMatchObject({ asExpected: true, redirectedRanges: ['5461-16383'] });
  expect(v.advice).toContain('must use a Redis Cluster-aware client');
  // The node redirecting its own range, or serving another's: not what the map says.
  expect(judgeRouting('node', 'h:1', [result('0-5460', 'h:1', { moved: 3 }), result('5461-16383', 'h:2', { moved: 3 })]).asExpected).toBe(false);
  expect(judgeRouting('node', 'h:1', [result('0-5460', 'h:1', { ok: 3 }), result('5461-16383', 'h:2', { ok: 3 })]).asExpected).toBe(false);
  const asking = judgeRouting('node', 'h:1', [result('0-5460', 'h:1', { ok: 2, ask: 1 }), result('5461-16383', 'h:2', { moved: 3 })]);
  expect(asking.asExpected).toBe(false);
  expect(asking.advice).toContain('ASK on 0-5460 (h:1)');
});
