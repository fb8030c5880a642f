import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classifyMigrationError, compareRedisVersions, deathVerdict, parseClusterNodes, type NodeObservation } from '../../src/cluster';

const fixture = (name: string) => readFileSync(join(__dirname, '..', 'fixtures', 'redis-7.0', name), 'utf8');
const DOWN = 'fb701f1533a22200d08c3093e7110ed9f10fc7ad';
const OTHERS = ['7fc3517abcae00b541a7ae87b73697c520a30275', '624906bf0e18613f700e1dbbe477939ffc6214a6'];

/** The view of `text` as the node at `address` reports it (myself moved there). */
function observedBy(text: string, address: string): NodeObservation {
  const view = parseClusterNodes(text).map((n) => ({ ...n, myself: n.address === address, flags: n.flags.filter((f) => f !== 'myself') }));
  return { address, view };
}

test('a master is dead when a majority of the other masters flag it fail', () => {
  const failed = fixture('cluster-nodes-failed.txt');
  const verdict = deathVerdict([observedBy(failed, '127.0.0.1:30001'), observedBy(failed, '127.0.0.1:30002')], DOWN, OTHERS);
  expect(verdict).toMatchObject({ dead: true, flaggingFail: ['127.0.0.1:30001', '127.0.0.1:30002'] });
});

test('one master of two flagging it, a pfail flag, or no master answering: not dead', () => {
  const failed = fixture('cluster-nodes-failed.txt');
  const healthy = fixture('cluster-nodes-healthy.txt');
  const half = deathVerdict([observedBy(failed, '127.0.0.1:30001'), observedBy(healthy, '127.0.0.1:30002')], DOWN, OTHERS);
  expect(half).toMatchObject({ dead: false, flaggingFail: ['127.0.0.1:30001'] });
  expect(half.why).toBe('1 of the 2 other masters flag it fail (2 needed): 127.0.0.1:30001');
  const pfail = failed.replace('master,fail', 'master,fail?');
  expect(deathVerdict([observedBy(pfail, '127.0.0.1:30001'), observedBy(pfail, '127.0.0.1:30002')], DOWN, OTHERS).dead).toBe(false);
  // Replicas do not vote, and a master that does not answer does not count as flagging it.
  expect(deathVerdict([observedBy(failed, '127.0.0.1:30001'), { address: '127.0.0.1:30002', error: { kind: 'unreachable', message: 'ECONNREFUSED' } }, observedBy(failed, '127.0.0.1:30006')], DOWN, OTHERS).dead).toBe(false);
});

test('redis versions compare by number', () => {
  expect(compareRedisVersions('7.0.15', '8.0.2')).toBe(-1);
  expect(compareRedisVersions('8.0.2', '7.0.15')).toBe(1);
  expect(compareRedisVersions('7.0.15', '7.0.15')).toBe(0);
  expect(compareRedisVersions('7.2.10', '7.10.1')).toBe(-1);
});

test('migration errors: what a retry cannot fix fails at once', () => {
  expect(classifyMigrationError('ERR Target instance replied with error: ERR DUMP payload version or checksum are wrong')).toBe('permanent');
  expect(classifyMigrationError('ERR Target instance replied with error: NOAUTH Authentication required.')).toBe('permanent');
  expect(classifyMigrationError('ERR syntax error')).toBe('permanent');
  expect(classifyMigrationError('ERR Please use SETSLOT only with masters.')).toBe('permanent');
  expect(classifyMigrationError('IOERR error or timeout reading to target instance')).toBe('transient');
  expect(classifyMigrationError('127.0.0.1:7001: connect ECONNREFUSED 127.0.0.1:7001')).toBe('transient');
  expect(classifyMigrationError('Command timed out')).toBe('transient');
  expect(classifyMigrationError("ERR I don't know about node 1a2b")).toBe('transient');
  expect(classifyMigrationError('BUSYKEY Target key name already exists.')).toBe('busykey');
});
