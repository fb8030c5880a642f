import { engineVersionOf, flattenInfo, parseInfo, targetEngineVersion, versionMatches, versionMismatches, versionTable } from '../../src/cluster';

// INFO server as Valkey 8.1.1 (trixie's valkey-server) and Redis 7.0.15 print it, trimmed.
const VALKEY_INFO = '# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.1.1\r\nredis_mode:cluster\r\n';
const REDIS_INFO = '# Server\r\nredis_version:7.0.15\r\nredis_mode:cluster\r\n';

test('Valkey is read by its valkey_version, not the redis_version:7.2.4 it also reports', () => {
  expect(engineVersionOf(flattenInfo(parseInfo(VALKEY_INFO)))).toEqual({ engine: 'valkey', version: '8.1.1' });
  expect(engineVersionOf(flattenInfo(parseInfo(REDIS_INFO)))).toEqual({ engine: 'redis', version: '7.0.15' });
  expect(engineVersionOf({})).toBeUndefined();
});

test('a target names its engine and version', () => {
  expect(targetEngineVersion('valkey-8.1')).toEqual({ engine: 'valkey', version: '8.1' });
  expect(targetEngineVersion('redisforge/valkey:8.1')).toEqual({ engine: 'valkey', version: '8.1' });
  expect(targetEngineVersion('8.0.2')).toEqual({ engine: 'redis', version: '8.0.2' });
  expect(targetEngineVersion('redis-8.0.2-alpine')).toEqual({ engine: 'redis', version: '8.0.2' });
  expect(targetEngineVersion('latest')).toBeUndefined();
  expect(versionMatches('8.1.1', '8.1')).toBe(true);
  expect(versionMatches('8.10.0', '8.1')).toBe(false);
});

test('after a migration to Valkey, a node still on Redis or on another Valkey is named with its engine', () => {
  const ok = [{ address: '10.0.0.1:7000', version: 'valkey-8.1', redisVersion: '8.1.1', engine: 'valkey' as const }];
  expect(versionMismatches(ok, 'valkey-8.1')).toEqual([]);
  expect(versionMismatches([...ok, { address: '10.0.0.2:7000', version: 'valkey-8.1', redisVersion: '7.0.15', engine: 'redis' }], 'valkey-8.1')).toEqual([
    '10.0.0.2:7000 reports redis 7.0.15, expected valkey 8.1',
  ]);
  expect(versionMismatches([{ address: '10.0.0.3:7000', version: 'valkey-8.1', redisVersion: '8.0.2', engine: 'valkey' }], 'valkey-8.1')).toEqual([
    '10.0.0.3:7000 reports valkey 8.0.2, expected valkey 8.1',
  ]);
  expect(versionTable(ok, 'valkey-8.1')).toContain('| 10.0.0.1:7000 | ? | valkey-8.1 (target) | valkey 8.1.1 |');
});
