/**
 * The nightly backup Schedule and the health Schedule (src/client/schedules.ts):
 * `schedule backup|health|list|pause|resume|trigger|delete` (--health for the health one).
 * Every command but list acts on one cluster's schedule, so the cluster must be named
 * (--cluster or $REDISFORGE_CLUSTER): pausing or deleting "main" by default would be a surprise.
 */
import { Option, type Command } from 'commander';
import {
  deleteBackupSchedule, describeBackupSchedule, listBackupSchedules, parseEvery, pauseBackupSchedule, resumeBackupSchedule, scheduleIdOf, triggerBackupSchedule,
  upsertBackupSchedule, upsertHealthSchedule, validateCron, type ScheduleKind, type ScheduleSummary,
} from '../schedules';
import { InvalidInputError, validateInput } from '../sdk';
import type { BackupClusterInput } from '../../workflows/inputs';
import { EXIT, usageError } from './errors';
import { decimalNumber, wholeNumber } from './procedures';
import type { Session } from './session';
import type { Register } from './start';

function namedCluster(session: Session): string {
  if (!session.clusterNamed) throw usageError('--cluster is required (the inventory name of the cluster, or set REDISFORGE_CLUSTER)');
  return session.cluster;
}

function describeSchedule(s: ScheduleSummary): string {
  return [
    `  ${s.every ? `every ${s.every}` : `cron ${s.cron.join(', ') || '?'} (${s.timeZone ?? 'UTC'})`}, ${s.paused ? `PAUSED${s.note ? `: ${s.note}` : ''}` : 'active'}`,
    `  next runs: ${s.nextRuns.join(', ') || '-'}`,
    `  recent runs: ${s.recentRuns.map((r) => r.workflowId).join(', ') || '-'}`,
  ].join('\n');
}

interface BackupFlags {
  cron: string;
  tz?: string;
  retainCount?: number;
  retainDays?: number;
  store?: string;
  compression?: 'none' | 'gzip';
  source?: 'replica' | 'master';
  catchup?: string;
  pauseOnFailure: boolean;
}

async function upsert(session: Session, opts: BackupFlags): Promise<number> {
  const cluster = namedCluster(session);
  try {
    validateCron(opts.cron);
  } catch (err) {
    throw usageError(`--cron: ${(err as Error).message.replace(/^cron: /, '')}`);
  }
  const retain = opts.retainCount !== undefined || opts.retainDays !== undefined ? { retain: { count: opts.retainCount, days: opts.retainDays } } : {};
  const backup: Omit<BackupClusterInput, 'cluster'> = { ...retain, ...(opts.store ? { store: opts.store } : {}), ...(opts.compression ? { compression: opts.compression } : {}), ...(opts.source ? { source: opts.source } : {}) };
  try {
    validateInput('backupCluster', { cluster, ...backup });
  } catch (err) {
    if (err instanceof InvalidInputError) throw usageError(`invalid backup: ${err.problems.join('; ')}`);
    throw err;
  }
  const client = await session.client();
  const { created, scheduleId } = await upsertBackupSchedule(client, { cluster, cron: opts.cron, timeZone: opts.tz, catchupWindow: opts.catchup, pauseOnFailure: opts.pauseOnFailure, backup });
  const summary = await describeBackupSchedule(client, cluster);
  if (session.json) {
    session.emit({ created, ...summary });
  } else {
    session.info(`${created ? 'created' : 'updated'} schedule ${scheduleId}`);
    session.info(describeSchedule(summary));
  }
  return EXIT.ok;
}

async function upsertHealth(session: Session, opts: { every: string; heal?: boolean }): Promise<number> {
  const cluster = namedCluster(session);
  try {
    parseEvery(opts.every);
  } catch (err) {
    throw usageError(`--every: ${(err as Error).message.replace(/^every: /, '')}`);
  }
  const client = await session.client();
  const { created, scheduleId } = await upsertHealthSchedule(client, { cluster, every: opts.every, heal: opts.heal === true });
  const summary = await describeBackupSchedule(client, cluster, 'health');
  if (session.json) {
    session.emit({ created, ...summary });
  } else {
    session.info(`${created ? 'created' : 'updated'} schedule ${scheduleId}: clusterHealth of ${cluster} every ${opts.every}`);
    session.info(describeSchedule(summary));
  }
  return EXIT.ok;
}

export function addScheduleCommands(program: Command, register: Register): void {
  const schedule = program
    .command('schedule')
    .description('The Schedules of a cluster: the nightly backup (id backup-<cluster>) and the health check (health-<cluster>): backup, health, list, pause, resume, trigger, delete');

  register(
    schedule
      .command('backup')
      .description('Create or update the backup schedule of --cluster (keeps its paused state)')
      .requiredOption('--cron <expr>', 'when, 5 fields: "0 3 * * *" is 03:00 every day')
      .option('--tz <zone>', 'IANA time zone of the cron expression (default UTC)')
      .addOption(new Option('--retain-count <n>', 'keep the newest n complete backups (default 14)').argParser(wholeNumber))
      .addOption(new Option('--retain-days <days>', 'keep complete backups younger than this').argParser(decimalNumber))
      .option('--store <name>', "a store in the worker's inventory (default: the cluster's backupStore)")
      .addOption(new Option('--compression <kind>', 'none or gzip').choices(['none', 'gzip']))
      .addOption(new Option('--source <role>', 'replica or master').choices(['replica', 'master']))
      .option('--catchup <duration>', 'runs missed while Temporal was down start if it is back within this (default "1 hour")')
      .option('--no-pause-on-failure', 'keep scheduling after a failed backup'),
    (session, cmd) => upsert(session, cmd.opts<BackupFlags>()),
  );

  register(
    schedule
      .command('health')
      .description("Create or update the health schedule of --cluster: clusterHealth every interval, its findings the worker's metrics (keeps its paused state)")
      .requiredOption('--every <interval>', 'how often: "30s", "1m", "5 minutes"')
      .option('--heal', 'when the cluster is down and no operation holds it, start repairCluster (restarts and open slots; giving away unserved slots still waits for approval)'),
    (session, cmd) => upsertHealth(session, cmd.opts<{ every: string; heal?: boolean }>()),
  );

  register(schedule.command('list').description('Every backup and health schedule'), async (session) => {
    const all = await listBackupSchedules(await session.client(), { health: true });
    if (session.json) session.emit(all);
    else session.info(all.length ? all.map((s) => `${s.scheduleId}${s.cluster ? ` (cluster ${s.cluster})` : ''}\n${describeSchedule(s)}`).join('\n') : 'no backup schedules: create one with "redisforge schedule backup --cluster <name> --cron \'0 3 * * *\'"');
    return EXIT.ok;
  });

  const actions: [string, string, (session: Session, cluster: string, kind: ScheduleKind, note?: string) => Promise<void>, (id: string, kind: ScheduleKind) => string][] = [
    ['pause', 'Pause it (no runs until resumed)', async (s, c, kind, note) => pauseBackupSchedule(await s.client(), c, note, kind), (id) => `paused ${id}`],
    ['resume', 'Resume it', async (s, c, kind) => resumeBackupSchedule(await s.client(), c, undefined, kind), (id) => `resumed ${id}`],
    ['trigger', 'Start a run now (skipped while one runs)', async (s, c, kind) => triggerBackupSchedule(await s.client(), c, kind),
      (id, kind) => (kind === 'health' ? `triggered ${id}: a clusterHealth run starts now` : `triggered ${id}: a backupCluster run starts now (redisforge list --operation backup)`)],
    ['delete', 'Delete it', async (s, c, kind) => deleteBackupSchedule(await s.client(), c, kind), (id) => `deleted ${id}`],
  ];
  for (const [name, description, act, message] of actions) {
    const command = schedule.command(name).description(`${description}; needs --cluster (the backup schedule; --health for the health one)`);
    command.option('--health', 'act on the health schedule (health-<cluster>) instead of the backup one');
    if (name === 'pause') command.option('--note <text>', 'why, shown with the schedule');
    register(command, async (session, cmd) => {
      const cluster = namedCluster(session);
      const { note, health } = cmd.opts<{ note?: string; health?: boolean }>();
      const kind: ScheduleKind = health ? 'health' : 'backup';
      await act(session, cluster, kind, note);
      const scheduleId = scheduleIdOf(cluster, kind);
      if (session.json) session.emit({ scheduleId, ok: true, message: message(scheduleId, kind) });
      else session.info(message(scheduleId, kind));
      return EXIT.ok;
    });
  }
}
