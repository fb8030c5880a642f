/**
 * The nightly backup as a Temporal Schedule: created or updated in place, listed, paused,
 * triggered now, deleted. One schedule per cluster, id "backup-<cluster>". And the continuous
 * health check: clusterHealth every interval, id "health-<cluster>", whose findings the worker
 * exports as metrics (src/workflows/metrics.ts).
 */
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleHandle, type ScheduleOptions } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import type { BackupClusterInput } from '../workflows/inputs';
import { TASK_QUEUE } from './connection';

export interface BackupScheduleOptions {
  cluster: string;
  /** Cron expression, e.g. "0 3 * * *" (03:00 every day). */
  cron: string;
  /** IANA time zone of the cron expression. @default "UTC" */
  timeZone?: string;
  /**
   * Passed to every backupCluster run, e.g. { retain: { count: 14 } }. By default a run waits
   * up to 30 minutes for a busy cluster, then records "skipped: cluster busy" as a completed
   * run: a busy cluster is no failure, so it never pauses the Schedule (pauseOnFailure).
   */
  backup?: Omit<BackupClusterInput, 'cluster' | 'backupId'>;
  /** Runs missed while the server was down are started when it is back within this window. @default "1 hour" */
  catchupWindow?: string;
  /** Stop scheduling after a failed backup until someone looks. @default true */
  pauseOnFailure?: boolean;
  taskQueue?: string;
}

export interface ScheduleSummary {
  scheduleId: string;
  cluster?: string;
  cron: string[];
  /** A health schedule's interval ("1m"). */
  every?: string;
  timeZone?: string;
  paused: boolean;
  note?: string;
  nextRuns: string[];
  recentRuns: { workflowId: string; startedAt: string }[];
}

export function backupScheduleId(cluster: string): string {
  return `backup-${cluster}`;
}

/** How long the nightly backup waits for an operation that holds the cluster before it skips the night. */
export const NIGHTLY_BUSY_WAIT_SECONDS = 1800;

function scheduleOptions(o: BackupScheduleOptions): ScheduleOptions {
  const input: BackupClusterInput = { retain: { count: 14 }, ifBusy: { waitSeconds: NIGHTLY_BUSY_WAIT_SECONDS, then: 'skip' }, ...o.backup, cluster: o.cluster };
  return {
    scheduleId: backupScheduleId(o.cluster),
    spec: { cronExpressions: [o.cron], timezone: o.timeZone ?? 'UTC' },
    action: { type: 'startWorkflow', workflowType: 'backupCluster', args: [input], taskQueue: o.taskQueue ?? TASK_QUEUE, workflowId: `backupCluster-${o.cluster}` },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: (o.catchupWindow ?? '1 hour') as Duration, pauseOnFailure: o.pauseOnFailure ?? true },
    memo: { cluster: o.cluster, cron: o.cron },
  };
}

/**
 * Creates the schedule, or updates it when it exists, keeping its paused state: in place when
 * the cron expression is the same, else re-created (the memo that shows the cron cannot be
 * updated in place).
 */
export async function upsertBackupSchedule(client: Client, o: BackupScheduleOptions): Promise<{ scheduleId: string; created: boolean }> {
  validateCron(o.cron);
  const options = scheduleOptions(o);
  const handle = client.schedule.getHandle(options.scheduleId);
  const existing = await describeIfExists(handle);
  if (existing && (existing.memo as { cron?: string } | undefined)?.cron === o.cron) {
    await handle.update((previous) => ({ ...previous, spec: options.spec, action: options.action, policies: { ...previous.policies, ...options.policies } }));
    return { scheduleId: options.scheduleId, created: false };
  }
  if (existing) await handle.delete();
  await client.schedule.create({ ...options, state: { paused: existing?.state.paused ?? false, note: existing?.state.note } });
  return { scheduleId: options.scheduleId, created: existing === undefined };
}

/** The schedule's description, or undefined when there is none. */
async function describeIfExists(handle: ScheduleHandle): Promise<ScheduleDescription | undefined> {
  try {
    return await handle.describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

/** Five fields (minute hour day-of-month month day-of-week) or a @-macro; else an error saying so. */
export function validateCron(cron: string): void {
  const fields = cron.trim().split(/\s+/);
  if (/^@(yearly|annually|monthly|weekly|daily|midnight|hourly|every .+)$/.test(cron.trim())) return;
  if (fields.length !== 5 || fields.some((f) => !/^[\d*/,A-Za-z?-]+$/.test(f))) {
    throw new Error(`cron: "${cron}" is not a 5-field cron expression (minute hour day-of-month month day-of-week), e.g. "0 3 * * *" for 03:00 daily`);
  }
}

function summarize(d: ScheduleDescription): ScheduleSummary {
  return {
    scheduleId: d.scheduleId,
    cluster: (d.memo as { cluster?: string } | undefined)?.cluster,
    cron: (d.memo as { cron?: string } | undefined)?.cron ? [(d.memo as { cron: string }).cron] : [],
    ...((d.memo as { every?: string } | undefined)?.every ? { every: (d.memo as { every: string }).every } : {}),
    timeZone: d.spec.timezone,
    paused: d.state.paused,
    note: d.state.note,
    nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
    recentRuns: d.info.recentActions.map((a) => ({ workflowId: 'workflow' in a.action ? a.action.workflow.workflowId : '', startedAt: a.takenAt.toISOString() })),
  };
}

export async function describeBackupSchedule(client: Client, cluster: string, kind: ScheduleKind = 'backup'): Promise<ScheduleSummary> {
  return summarize(await client.schedule.getHandle(scheduleIdOf(cluster, kind)).describe());
}

/** Which of a cluster's schedules: the nightly backup (backup-<cluster>) or the health check (health-<cluster>). */
export type ScheduleKind = 'backup' | 'health';

export function scheduleIdOf(cluster: string, kind: ScheduleKind = 'backup'): string {
  return kind === 'health' ? healthScheduleId(cluster) : backupScheduleId(cluster);
}

export async function pauseBackupSchedule(client: Client, cluster: string, note = 'paused by redisforge', kind: ScheduleKind = 'backup'): Promise<void> {
  await client.schedule.getHandle(scheduleIdOf(cluster, kind)).pause(note);
}

export async function resumeBackupSchedule(client: Client, cluster: string, note = 'resumed by redisforge', kind: ScheduleKind = 'backup'): Promise<void> {
  await client.schedule.getHandle(scheduleIdOf(cluster, kind)).unpause(note);
}

/** Starts a run now, outside the calendar; skipped while one is running (overlap SKIP). */
export async function triggerBackupSchedule(client: Client, cluster: string, kind: ScheduleKind = 'backup'): Promise<void> {
  await client.schedule.getHandle(scheduleIdOf(cluster, kind)).trigger(ScheduleOverlapPolicy.SKIP);
}

export async function deleteBackupSchedule(client: Client, cluster: string, kind: ScheduleKind = 'backup'): Promise<void> {
  await client.schedule.getHandle(scheduleIdOf(cluster, kind)).delete();
}

/** Every backup schedule (ids starting "backup-"), and with `health` every health schedule too ("health-"). */
export async function listBackupSchedules(client: Client, options: { health?: boolean } = {}): Promise<ScheduleSummary[]> {
  const out: ScheduleSummary[] = [];
  for await (const s of client.schedule.list()) {
    if (s.scheduleId.startsWith('backup-') || (options.health && s.scheduleId.startsWith('health-'))) out.push(summarize(await client.schedule.getHandle(s.scheduleId).describe()));
  }
  return out.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

export function healthScheduleId(cluster: string): string {
  return `health-${cluster}`;
}

export interface HealthScheduleOptions {
  cluster: string;
  /** How often: "30s", "1m", "5 minutes" (at least 1 s). */
  every: string;
  /** Each check starts repairCluster when the cluster is down (clusterHealth's heal). @default false */
  heal?: boolean;
  taskQueue?: string;
}

/** The interval in milliseconds, or an error saying what is expected. */
export function parseEvery(every: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)\s*$/i.exec(every);
  const ms = m ? Number(m[1]) * (/^s/i.test(m[2]!) ? 1000 : /^m/i.test(m[2]!) ? 60_000 : 3_600_000) : NaN;
  if (!Number.isFinite(ms) || ms < 1000) throw new Error(`every: "${every}" is not an interval of at least a second, e.g. "30s", "1m" or "5 minutes"`);
  return ms;
}

/**
 * Runs clusterHealth on the cluster every `every`: created, or updated in place (its paused state
 * kept). Overlapping checks are skipped; a failed check does not pause it (a cluster in trouble is
 * when it matters most).
 */
export async function upsertHealthSchedule(client: Client, o: HealthScheduleOptions): Promise<{ scheduleId: string; created: boolean }> {
  const everyMs = parseEvery(o.every);
  const scheduleId = healthScheduleId(o.cluster);
  const spec = { intervals: [{ every: everyMs }] };
  const action = { type: 'startWorkflow' as const, workflowType: 'clusterHealth', args: [{ cluster: o.cluster, ...(o.heal ? { heal: true } : {}) }], taskQueue: o.taskQueue ?? TASK_QUEUE, workflowId: `clusterHealth-${o.cluster}-scheduled` };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' as Duration, pauseOnFailure: false };
  const handle = client.schedule.getHandle(scheduleId);
  const existing = await describeIfExists(handle);
  if (existing && (existing.memo as { every?: string } | undefined)?.every === o.every && (existing.memo as { heal?: boolean }).heal === (o.heal ?? false)) {
    await handle.update((previous) => ({ ...previous, spec, action, policies: { ...previous.policies, ...policies } }));
    return { scheduleId, created: false };
  }
  if (existing) await handle.delete();
  await client.schedule.create({ scheduleId, spec, action, policies, memo: { cluster: o.cluster, every: o.every, heal: o.heal ?? false }, state: { paused: existing?.state.paused ?? false, note: existing?.state.note } });
  return { scheduleId, created: existing === undefined };
}
