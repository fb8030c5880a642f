import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startupFailure } from '../../src/runtime/process';

// What Redis 7.0.15 logged here when restored with a Redis 8.0.2 backup (trimmed), after an earlier clean run.
const EARLIER = [
  '1:M 03 Dec 2026 11:50:01.000 # WARNING Memory overcommit must be enabled!',
  '1:M 03 Dec 2026 11:50:02.000 # User requested shutdown...',
  '1:M 03 Dec 2026 11:50:02.100 # Redis is now ready to exit, bye bye...',
].join('\n');
const FAILED = [
  '29424:C 03 Dec 2026 11:55:19.100 # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo',
  '29424:M 03 Dec 2026 11:55:19.191 # Server initialized',
  '29424:M 03 Dec 2026 11:55:19.191 # WARNING Memory overcommit must be enabled!',
  '29424:M 03 Dec 2026 11:55:19.192 * Reading RDB base file on AOF loading...',
  "29424:M 03 Dec 2026 11:55:19.192 # Can't handle RDB format version 12",
  '29424:M 03 Dec 2026 11:55:19.192 # Error reading the RDB base file appendonly.aof.3.base.rdb, AOF loading aborted',
  '29424:M 03 Dec 2026 11:55:19.192 # Unrecoverable error reading the append only file appendonly.aof.3.base.rdb: Invalid argument',
].join('\n');

test("a server that gives up while starting is told by its own log lines since the start; an earlier run's exit, warnings and a start still under way are not", async () => {
  const log = join(mkdtempSync(join(tmpdir(), 'rf-log-')), 'redis.log');
  writeFileSync(log, `${EARLIER}\n`);
  const from = EARLIER.length + 1;
  expect(await startupFailure(log, from)).toBeUndefined();
  writeFileSync(log, `${EARLIER}\n${FAILED.split('\n').slice(0, 4).join('\n')}\n`);
  expect(await startupFailure(log, from)).toBeUndefined();
  writeFileSync(log, `${EARLIER}\n${FAILED}\n`);
  expect(await startupFailure(log, from)).toBe(
    "redis-server stopped while starting: Can't handle RDB format version 12; Error reading the RDB base file appendonly.aof.3.base.rdb, AOF loading aborted; Unrecoverable error reading the append only file appendonly.aof.3.base.rdb: Invalid argument",
  );
  expect(await startupFailure(join(log, '..', 'missing.log'), 0)).toBeUndefined();
});
