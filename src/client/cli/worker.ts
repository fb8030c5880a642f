/**
 * `redisforge worker`: the worker itself (src/worker), so an installed package runs it without the
 * source tree: `npx redisforge worker`. It is loaded only for this command, so the rest of the CLI
 * starts without the worker's dependencies.
 */
import type { Command } from 'commander';
import type { Session } from './session';
import type { Register } from './start';

interface WorkerFlags {
  inventory?: string;
  taskQueue?: string;
  host?: string;
}

async function runWorkerCommand(session: Session, flags: WorkerFlags): Promise<number> {
  // The worker reads its settings from the process environment, as it does when started on its own.
  const env = process.env;
  if (flags.inventory) env.REDISFORGE_INVENTORY = flags.inventory;
  if (flags.taskQueue) env.REDISFORGE_TASK_QUEUE = flags.taskQueue;
  if (flags.host) env.REDISFORGE_HOST = flags.host;
  const globals = session.globals;
  if (globals.address) env.TEMPORAL_ADDRESS = globals.address;
  if (globals.namespace) env.TEMPORAL_NAMESPACE = globals.namespace;
  // Loaded only now. Not import(): from the source tree (bin/ runs it through tsx/cjs) that is an
  // ES module import, which cannot load TypeScript.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runWorker } = require('../../worker') as typeof import('../../worker');
  return runWorker();
}

export function addWorkerCommand(program: Command, register: Register): void {
  const command = program
    .command('worker')
    .description('run the worker: every runbook workflow and its activities, until Ctrl-C (SIGINT/SIGTERM stop it gracefully)')
    .option('--inventory <file>', 'the inventory (default: $REDISFORGE_INVENTORY or ./redisforge.json)')
    .option('--task-queue <name>', 'the task queue to poll (default: $REDISFORGE_TASK_QUEUE or "redisforge-ops")')
    .option(
      '--host <name>',
      "be the host agent of <name> (default: $REDISFORGE_HOST): only the node-local activities (start, stop, replace, data directories, scratch nodes) of the nodes the inventory's clusters.<c>.hosts put on it, on the task queue redisforge-host-<name>; no workflows",
    )
    .addHelpText(
      'after',
      '\nSettings: TEMPORAL_* as for every command; REDISFORGE_CODEC_KEYS or REDISFORGE_CODEC_KEYS_FILE (payload encryption),\n' +
        'REDISFORGE_LOG_FORMAT=text|json, REDISFORGE_WORKFLOW_BUNDLE (a bundle from `npm run bundle`; the package ships one),\n' +
        'REDISFORGE_METRICS_ADDRESS=host:port (Prometheus metrics at /metrics: temporal_* and redisforge_*).\n' +
        'Many hosts: the central worker (no --host) runs the workflows and the Redis-protocol activities; on each machine that runs\n' +
        'nodes, `redisforge worker --host NAME` (a systemd unit: deploy/redisforge-agent@.service) touches its nodes only.\n' +
        'Exit codes: 0 stopped on a signal, 2 a setting to fix (inventory, keys, log format, metrics address, --host), 1 any other failure.',
    );
  register(command, (session, cmd) => runWorkerCommand(session, cmd.opts<WorkerFlags>()));
}
