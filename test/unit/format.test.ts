/**
 * `redisforge health` on a cluster left with 192 open slots prints a line per kind of problem and
 * node, not one per slot; other findings stay one line each, in their order.
 */
import type { Finding, HealthReport } from '../../src/cluster';
import { formatHealthReport, groupFindings } from '../../src/client/format';

const advice = 'run repairCluster (redis-cli --cluster fix) to close it';
const open = (slot: number, node: string, verb: string): Finding => ({ code: 'OPEN_SLOT', severity: 'critical', node, slots: String(slot), message: `slot ${slot} is ${verb}`, advice });
const findings: Finding[] = [
  ...Array.from({ length: 96 }, (_, i) => open(100 + i, '127.0.0.1:7001', 'MIGRATING to 127.0.0.1:7002')),
  { code: 'NODE_UNREACHABLE', severity: 'critical', node: '127.0.0.1:7006', message: '127.0.0.1:7006 does not answer', advice: 'start it' },
  ...Array.from({ length: 96 }, (_, i) => open(100 + i, '127.0.0.1:7002', 'IMPORTING from 127.0.0.1:7001')),
  open(5000, '127.0.0.1:7001', 'MIGRATING to 127.0.0.1:7003'),
];

test('findings that differ only in their slots are one line, their slots merged into ranges', () => {
  expect(groupFindings(findings).map((g) => [g.finding.code, g.finding.node, g.count, g.slots])).toEqual([
    ['OPEN_SLOT', '127.0.0.1:7001', 97, '100-195,5000'],
    ['NODE_UNREACHABLE', '127.0.0.1:7006', 1, undefined],
    ['OPEN_SLOT', '127.0.0.1:7002', 96, '100-195'],
  ]);
});

test('the health report says how many findings there are and prints each group once with its advice', () => {
  const report = {
    healthy: false, findings, shards: [],
    summary: { nodesReachable: 5, nodesObserved: 6, masters: 3, replicas: 2, slotsCovered: 16384, clusterStateOk: 5, versions: ['7.0.15'] },
  } as unknown as HealthReport;
  const text = formatHealthReport('main', report);
  expect(text).toContain('  194 finding(s), 3 after grouping those that differ only in their slots:');
  expect(text).toContain('  CRITICAL OPEN_SLOT 127.0.0.1:7001 slots 100-195,5000 (97 findings; the first: slot 100 is MIGRATING to 127.0.0.1:7002)');
  expect(text).toContain('  CRITICAL NODE_UNREACHABLE 127.0.0.1:7006: 127.0.0.1:7006 does not answer');
  expect(text.split('\n').length).toBeLessThan(20);
});
