/**
 * `npm run schedule -- ...`: the nightly backup Schedule commands of the redisforge CLI
 * (`redisforge schedule backup|list|pause|resume|trigger|delete`, see src/client/cli/schedule.ts).
 *
 *   npm run schedule -- backup --cluster NAME --cron "0 3 * * *" [--tz UTC] [--retain-count 14] ...
 *   npm run schedule -- list
 *
 * `list` prints JSON here, as it always has for scripts. Exit codes as for the CLI: 0 done,
 * 1 the server refused, 2 bad usage, 3 Temporal unreachable.
 */
import type { Client } from '@temporalio/client';
import { runCli } from './cli/program';
import { processIo } from './cli/session';
import { connectClient } from './connection';

export async function scheduleCommand(argv: string[], connect: () => Promise<Client> = connectClient, out: (line: string) => void = console.log): Promise<number> {
  const io = { ...processIo(), connect: () => connect(), stdout: (text: string) => out(text.replace(/\n$/, '')) };
  return runCli(['schedule', ...argv, ...(argv[0] === 'list' ? ['--json'] : [])], io);
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
