/**
 * The nightly backup Schedule from a terminal (npm run schedule -- ...):
 *
 *   schedule backup  --cluster NAME --cron "0 3 * * *" [--tz UTC] [--retain-count 14] [--retain-days D]
 *                    [--store NAME] [--compression none|gzip] [--catchup "1 hour"] [--no-pause-on-failure]
 *   schedule list
 *   schedule pause   --cluster NAME [--note TEXT]
 *   schedule resume  --cluster NAME
 *   schedule trigger --cluster NAME
 *   schedule delete  --cluster NAME
 *
 * Exit codes: 0 done, 1 the server refused, 2 bad usage, 3 Temporal unreachable.
 */
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { connectClient } from './connection';
import {
  deleteBackupSchedule, describeBackupSchedule, listBackupSchedules, pauseBackupSchedule, resumeBackupSchedule, triggerBackupSchedule,
  upsertBackupSchedule, validateCron,
} from './schedules';

const USAGE = `usage:
  schedule backup  --cluster NAME --cron "0 3 * * *" [--tz UTC] [--retain-count 14] [--retain-days D]
                   [--store NAME] [--compression none|gzip] [--catchup "1 hour"] [--no-pause-on-failure]
  schedule list
  schedule pause   --cluster NAME [--note TEXT]
  schedule resume  --cluster NAME
  schedule trigger --cluster NAME
  schedule delete  --cluster NAME`;

class UsageError extends Error {}

function positiveNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag}: expected a positive number, got "${value}"`);
  return n;
}

export async function scheduleCommand(argv: string[], connect: () => Promise<Client> = connectClient, out: (line: string) => void = console.log): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { command, values } = parsed;
  let client: Client;
  try {
    client = await connect();
  } catch (err) {
    console.error(`cannot reach Temporal (${(err as Error).message}); set TEMPORAL_ADDRESS or start the server`);
    return 3;
  }
  const cluster = values.cluster!;
  try {
    switch (command) {
      case 'backup': {
        const retain = { count: positiveNumber('--retain-count', values['retain-count']), days: positiveNumber('--retain-days', values['retain-days']) };
        const { created, scheduleId } = await upsertBackupSchedule(client, {
          cluster,
          cron: values.cron!,
          timeZone: values.tz,
          catchupWindow: values.catchup,
          pauseOnFailure: !values['no-pause-on-failure'],
          backup: {
            ...(retain.count !== undefined || retain.days !== undefined ? { retain } : {}),
            ...(values.store ? { store: values.store } : {}),
            ...(values.compression ? { compression: values.compression as 'none' | 'gzip' } : {}),
          },
        });
        out(`${created ? 'created' : 'updated'} schedule ${scheduleId}`);
        out(JSON.stringify(await describeBackupSchedule(client, cluster), null, 2));
        return 0;
      }
      case 'list':
        out(JSON.stringify(await listBackupSchedules(client), null, 2));
        return 0;
      case 'pause':
        await pauseBackupSchedule(client, cluster, values.note);
        out(`paused backup-${cluster}`);
        return 0;
      case 'resume':
        await resumeBackupSchedule(client, cluster);
        out(`resumed backup-${cluster}`);
        return 0;
      case 'trigger':
        await triggerBackupSchedule(client, cluster);
        out(`triggered backup-${cluster}: a backupCluster run starts now`);
        return 0;
      case 'delete':
        await deleteBackupSchedule(client, cluster);
        out(`deleted backup-${cluster}`);
        return 0;
    }
  } catch (err) {
    const e = err as Error;
    console.error(e.name === 'ScheduleNotFoundError' ? `no backup schedule for cluster ${cluster}: create it with "schedule backup --cluster ${cluster} --cron ..."` : e.message);
    return 1;
  } finally {
    await client.connection.close();
  }
  return 2;
}

function parse(argv: string[]) {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      cluster: { type: 'string' },
      cron: { type: 'string' },
      tz: { type: 'string' },
      'retain-count': { type: 'string' },
      'retain-days': { type: 'string' },
      store: { type: 'string' },
      compression: { type: 'string' },
      catchup: { type: 'string' },
      'no-pause-on-failure': { type: 'boolean' },
      note: { type: 'string' },
    },
  });
  const command = positionals[0];
  if (!['backup', 'list', 'pause', 'resume', 'trigger', 'delete'].includes(command ?? '')) throw new UsageError(`unknown command "${command ?? ''}"`);
  if (command !== 'list' && !values.cluster) throw new UsageError(`${command}: --cluster is required (the inventory name of the cluster)`);
  if (command === 'backup') {
    if (!values.cron) throw new UsageError('backup: --cron is required, e.g. --cron "0 3 * * *" for 03:00 daily');
    validateCron(values.cron);
    if (values.compression && !['none', 'gzip'].includes(values.compression)) throw new UsageError(`--compression: expected "none" or "gzip", got "${values.compression}"`);
    positiveNumber('--retain-count', values['retain-count']);
    positiveNumber('--retain-days', values['retain-days']);
  }
  return { command: command as 'backup' | 'list' | 'pause' | 'resume' | 'trigger' | 'delete', values };
}

if (require.main === module) {
  scheduleCommand(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
