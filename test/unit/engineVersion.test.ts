import {
  backupRdbFormat, engineVersionOf, flattenInfo, parseInfo, rdbFormatOf, rdbFormatOfHeader, rdbFormatProblem, targetEngineVersion, upgradeFormatProblem, versionMatches, versionMismatches, versionTable,
} from '../../src/cluster';

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

describe('RDB formats', () => {
  const node = (address: string, engine: 'redis' | 'valkey', version: string) => ({ address, engine: { engine, version } });

  test('what each engine reads (and writes), as measured here; an unknown version is not guessed', () => {
    expect(rdbFormatOf({ engine: 'redis', version: '7.0.15' })).toBe(10);
    expect(rdbFormatOf({ engine: 'valkey', version: '8.1.1' })).toBe(11);
    expect(rdbFormatOf({ engine: 'redis', version: '8.0.2' })).toBe(12);
    expect(rdbFormatOf({ engine: 'valkey', version: '9.0.0' })).toBeUndefined();
    expect(rdbFormatOfHeader(Buffer.from('REDIS0012\xfa', 'latin1'))).toBe(12);
    expect(rdbFormatOfHeader(Buffer.from('*2\r\n$6\r\n', 'latin1'))).toBeUndefined();
  });

  test('a backup of Redis 8.0.2 cannot go onto Redis 7.0.15 nodes; a Valkey or Redis 7.0 backup can go onto Redis 8.0.2', () => {
    expect(rdbFormatProblem(12, 'backup b1 (taken on Redis 8.0.2)', [node('n1:1', 'redis', '7.0.15'), node('n2:1', 'redis', '8.0.2')])).toBe(
      'backup b1 (taken on Redis 8.0.2) is RDB format 12, and n1:1 runs Redis 7.0.15, which reads RDB format 10 at most: it would not start on it ("Can\'t handle RDB format version 12")',
    );
    expect(rdbFormatProblem(11, 'backup b2', [node('n1:1', 'redis', '8.0.2')])).toBeUndefined();
    expect(rdbFormatProblem(10, 'backup b3', [node('n1:1', 'valkey', '8.1.1')])).toBeUndefined();
    // Older manifests name only redis_version: Valkey's 7.2.4 means format 11, as Valkey writes.
    expect(backupRdbFormat({ redisVersion: '7.2.4' })).toBe(11);
    expect(backupRdbFormat({ redisVersion: '7.2.4', rdbFormat: 11, engine: { engine: 'valkey', version: '8.1.1' } })).toBe(11);
  });

  test('a rolling upgrade to an engine of an older RDB format is refused: Redis 8.0 to Valkey 8.1, or back to 7.0.15', () => {
    const on8 = [node('n1:1', 'redis', '8.0.2'), node('n2:1', 'redis', '8.0.2')];
    expect(upgradeFormatProblem(on8, 'valkey-8.1')).toMatch(/^version: "valkey-8\.1" \(Valkey 8\.1\) reads RDB format 11 at most, and n1:1, n2:1 run Redis 8\.0\.2 \(RDB format 12\)/);
    expect(upgradeFormatProblem(on8, '7.0.15')).toContain('reads RDB format 10 at most');
    expect(upgradeFormatProblem([node('n1:1', 'redis', '7.0.15')], 'valkey-8.1')).toBeUndefined();
    expect(upgradeFormatProblem([node('n1:1', 'valkey', '8.1.1')], '8.0.2')).toBeUndefined();
    // A name that says no version is not guessed at.
    expect(upgradeFormatProblem(on8, 'stable')).toBeUndefined();
  });
});
