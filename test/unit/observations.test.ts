/** The compact form of every node's view: the same observations back, a fraction of the size at 90 nodes. */
import { compactObservations, expandObservations, parseClusterNodes, type NodeObservation } from '../../src/cluster';
import { healthyObservations } from '../helpers/topology';

/** A 90-node cluster's views: 45 masters with 364 slots each, one replica each, as each node would list them. */
function bigCluster(size = 90): NodeObservation[] {
  const id = (i: number) => i.toString(16).padStart(40, '0');
  const masters = size / 2;
  const lines = Array.from({ length: size }, (_, i) => {
    const master = i < masters;
    const first = Math.floor((i * 16384) / masters);
    const last = Math.floor(((i + 1) * 16384) / masters) - 1;
    return `${id(i)} 127.0.0.1:${20101 + i}@${30101 + i} ${master ? 'master' : 'slave'} ${master ? '-' : id(i - masters)} 0 1796400000000 ${(i % masters) + 1} connected${master ? ` ${first}-${last}` : ''}`;
  });
  return lines.map((_, i) => {
    const view = parseClusterNodes(lines.map((l, j) => (j === i ? l.replace(/ (master|slave) /, ' myself,$1 ') : l.replace('1796400000000', String(1796400000000 + i)))).join('\n'));
    return { address: `127.0.0.1:${20101 + i}`, view, redisVersion: '7.0.15' };
  });
}

const withoutTimes = (o: NodeObservation[]) => o.map((x) => ({ ...x, view: x.view?.map((n) => ({ ...n, pingSent: 0, pongReceived: 0 })) }));

test('expanding the compact form gives the observations back (ping/pong times aside), errors and myself included', () => {
  const observed = [...healthyObservations(['127.0.0.1:7005'])];
  expect(expandObservations(compactObservations(observed))).toEqual(withoutTimes(observed));
  // Histories of before hold the plain array: read as it is.
  expect(expandObservations(observed)).toBe(observed);
});

test('at 90 nodes the compact form is a small fraction of the plain one, well under the payload limit', () => {
  const observed = bigCluster(90);
  const plain = JSON.stringify(observed).length;
  const compact = JSON.stringify(compactObservations(observed)).length;
  expect(expandObservations(compactObservations(observed))).toEqual(withoutTimes(observed));
  expect(plain).toBeGreaterThan(2_000_000);
  expect(compact).toBeLessThan(plain / 20);
  expect(compact).toBeLessThan(200_000);
});
