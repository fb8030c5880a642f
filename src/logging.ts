/**
 * The worker's log: the Temporal runtime's logger, which workflows (through the workflow
 * logger, with workflow id and run id) and activities (with activity type and attempt) write to.
 * REDISFORGE_LOG_FORMAT=json gives one JSON object per line for a log collector; the default is
 * the SDK's readable format. Messages come from our own code and the SDK's: the connector
 * redacts secrets before they reach an error, so none reaches the log (test/final/secrets.test.ts).
 */
import { DefaultLogger, type LogEntry } from '@temporalio/worker';

export type LogFormat = 'text' | 'json';

export class LogFormatError extends Error {}

export function logFormatFromEnv(env: NodeJS.ProcessEnv = process.env): LogFormat {
  const value = env.REDISFORGE_LOG_FORMAT ?? 'text';
  if (value === 'text' || value === 'json') return value;
  throw new LogFormatError(`REDISFORGE_LOG_FORMAT=${value} is not a log format: use "json" (one object per line) or "text" (the default)`);
}

/** One log entry as one line of JSON: time, level, message, then its metadata (errors by name, type, message). */
export function jsonLogLine(entry: LogEntry): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  return JSON.stringify({ time, level: entry.level, message: entry.message, ...entry.meta }, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) {
      const { type, nonRetryable } = value as Error & { type?: string; nonRetryable?: boolean };
      return { name: value.name, ...(type ? { type } : {}), ...(nonRetryable !== undefined ? { nonRetryable } : {}), message: value.message, ...(value.cause ? { cause: value.cause } : {}) };
    }
    return value;
  });
}

export function workerLogger(format: LogFormat): DefaultLogger {
  return format === 'json' ? new DefaultLogger('INFO', (entry) => process.stderr.write(`${jsonLogLine(entry)}\n`)) : new DefaultLogger('INFO');
}
