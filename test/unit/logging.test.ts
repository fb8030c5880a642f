/** REDISFORGE_LOG_FORMAT=json: one JSON object per line, errors by name, type and message. */
import { ApplicationFailure } from '@temporalio/common';
import { jsonLogLine, logFormatFromEnv } from '../../src/logging';

test('a log entry is one line of JSON with its time, level, message and metadata, errors readable', () => {
  const error = ApplicationFailure.create({ type: 'WaitTimedOut', nonRetryable: true, message: 'timed out after 60 s waiting for 127.0.0.1:7004 to be an in-sync replica' });
  const line = jsonLogLine({
    level: 'WARN', message: 'Activity failed', timestampNanos: 1_796_226_493_438_000_000n,
    meta: { workflowId: 'upgradeRedis-main-1', activityType: 'awaitReplicaInSync', attempt: 1, error },
  });
  expect(line).not.toContain('\n');
  expect(JSON.parse(line)).toEqual({
    time: '2026-12-02T15:48:13.438Z', level: 'WARN', message: 'Activity failed', workflowId: 'upgradeRedis-main-1', activityType: 'awaitReplicaInSync', attempt: 1,
    error: { name: 'ApplicationFailure', type: 'WaitTimedOut', nonRetryable: true, message: 'timed out after 60 s waiting for 127.0.0.1:7004 to be an in-sync replica' },
  });
});

test('the format is text unless REDISFORGE_LOG_FORMAT says json; anything else is refused naming the choices', () => {
  expect([logFormatFromEnv({}), logFormatFromEnv({ REDISFORGE_LOG_FORMAT: 'json' })]).toEqual(['text', 'json']);
  expect(() => logFormatFromEnv({ REDISFORGE_LOG_FORMAT: 'yaml' })).toThrow('REDISFORGE_LOG_FORMAT=yaml is not a log format: use "json" (one object per line) or "text" (the default)');
});
