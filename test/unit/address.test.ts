import { addressInInventory, addressMatches } from '../../src/cluster';

test('inventory entries: exact addresses, port ranges on one host, CIDRs with a port or a range', () => {
  expect(addressMatches('127.0.0.1:7007', '127.0.0.1:7007')).toBe(true);
  expect(addressMatches('127.0.0.1:7007', '127.0.0.1:7008')).toBe(false);
  expect(addressMatches('127.0.0.1:7007-7010', '127.0.0.1:7010')).toBe(true);
  expect(addressMatches('127.0.0.1:7007-7010', '127.0.0.1:7011')).toBe(false);
  // Hosts compare as written: the inventory says which name the cluster uses.
  expect(addressMatches('127.0.0.1:7007-7010', 'localhost:7008')).toBe(false);
  expect(addressMatches('127.0.0.1:7007-7010', '127.0.0.3:7008')).toBe(false);
  expect(addressMatches('10.0.0.0/24:6379', '10.0.0.200:6379')).toBe(true);
  expect(addressMatches('10.0.0.0/24:6379', '10.0.1.1:6379')).toBe(false);
  expect(addressMatches('10.0.0.0/24:6379', '10.0.0.1:6380')).toBe(false);
  expect(addressMatches('10.0.0.0/8:7000-7100', '10.20.30.40:7050')).toBe(true);
  expect(addressMatches('10.0.0.0/24:6379', 'redis-7.internal:6379')).toBe(false);
  expect(addressMatches('0.0.0.0/0:6379', '192.168.1.1:6379')).toBe(true);
});

test('an address is in the inventory when it is a node or falls in a spare entry', () => {
  const nodes = ['127.0.0.1:7001', '127.0.0.1:7002'];
  expect(addressInInventory('127.0.0.1:7002', nodes)).toBe(true);
  expect(addressInInventory('127.0.0.1:7008', nodes)).toBe(false);
  expect(addressInInventory('127.0.0.1:7008', nodes, ['127.0.0.1:7007-7010'])).toBe(true);
  expect(addressInInventory('127.0.0.3:7390', nodes, ['127.0.0.1:7007-7010'])).toBe(false);
});
