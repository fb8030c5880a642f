/**
 * Running operations: their status, live progress, approval, pause/resume/abort/throttle, and
 * the recent ones of a cluster (a visibility query on RedisCluster / RunbookOperation).
 */
import { hostname, userInfo } from 'node:os';
import { Option, type Command } from 'commander';
import { WorkflowFailedError, type Client, type WorkflowExecutionDescription, type WorkflowExecutionInfo } from '@temporalio/client';
import { progressQuery, redisClusterKey, runbookOperationKey, type Progress } from '../../shared';
import { formatDuration } from '../format';
import { SLOT_MOVING_CHILD, workflowsHandling } from '../../workflows/operatorMessages';
import { attachRunbookWorkflow, inputSchemas, type RunbookHandle } from '../sdk';
import { CliError, describeRunFailure, EXIT, usageError } from './errors';
import { PROCEDURES, wholeNumber } from './procedures';
import { describeProgress } from './progress';
import { formatResult, verdictProblem } from './results';
import type { Session } from './session';
import { followAndReport, type Register } from './start';

const STATUS_QUERY_MS = 3000;

/** The progress of a run, or undefined when no worker answers in time (a closed run is replayed to answer). */
async function progressOf(client: Client, workflowId: string): Promise<Progress | undefined> {
  return client.connection.withDeadline(Date.now() + STATUS_QUERY_MS, () => client.workflow.getHandle(workflowId).query(progressQuery)).catch(() => undefined);
}

async function outcomeOf(client: Client, d: WorkflowExecutionDescription): Promise<{ result?: unknown; failure?: { type: string; message: string } }> {
  if (d.status.name === 'RUNNING') return {};
  try {
    return { result: await client.workflow.getHandle(d.workflowId).result() };
  } catch (err) {
    if (err instanceof WorkflowFailedError) return { failure: describeRunFailure(err) };
    throw err;
  }
}

function since(start: Date, end?: Date): string {
  return formatDuration((end ?? new Date()).getTime() - start.getTime());
}

async function status(session: Session, workflowId: string): Promise<number> {
  const client = await session.client();
  const d = await client.workflow.getHandle(workflowId).describe();
  const [summary, progress, outcome] = await Promise.all([d.staticSummary().catch(() => undefined), progressOf(client, workflowId), outcomeOf(client, d)]);
  const cluster = d.typedSearchAttributes.get(redisClusterKey);
  // The exit code says how it ended, as the command that ran it would have: a failed,
  // terminated, cancelled or timed-out run, or a report that says the cluster is not fine, is 1.
  const problem = outcome.result !== undefined ? verdictProblem(d.type, outcome.result) : undefined;
  const ended = d.status.name === 'RUNNING' || d.status.name === 'CONTINUED_AS_NEW' || (d.status.name === 'COMPLETED' && !problem) ? EXIT.ok : EXIT.failed;
  if (session.json) {
    session.emit({ workflowId, runId: d.runId, type: d.type, status: d.status.name, summary, cluster, startTime: d.startTime, closeTime: d.closeTime, progress, ...outcome, ...(problem ? { problem } : {}) });
    return ended;
  }
  const lines = [
    `${workflowId}${summary ? `: ${summary}` : ''}`,
    `  status:  ${d.status.name}, started ${d.startTime.toISOString()}, ${d.closeTime ? `took ${since(d.startTime, d.closeTime)}` : `running for ${since(d.startTime)}`}`,
    progress ? `  step:    ${describeProgress(progress)}` : '  step:    (no worker answered the progress query: is a worker running?)',
  ];
  if (outcome.failure) lines.push(`  failure: ${outcome.failure.type}: ${outcome.failure.message}`);
  if (outcome.result !== undefined) lines.push('', formatResult(d.type, outcome.result));
  if (d.status.name === 'RUNNING' && /approval needed/i.test(progress?.detail ?? '')) lines.push(`  -> waiting for approval: redisforge approve ${workflowId} --by <your name>`);
  session.info(lines.join('\n'));
  if (problem) session.warn(`redisforge: ${problem}`);
  return ended;
}

async function running(session: Session, workflowId: string, what: string): Promise<RunbookHandle> {
  const handle = await attachRunbookWorkflow(await session.client(), workflowId);
  const d = await handle.workflow.describe();
  if (d.status.name !== 'RUNNING') throw new CliError(`${workflowId} is ${d.status.name.toLowerCase()}: there is nothing to ${what} (redisforge status ${workflowId} shows how it ended)`, EXIT.failed);
  return handle;
}

function operator(env: NodeJS.ProcessEnv): string {
  let user = env.USER ?? env.LOGNAME;
  try {
    user ??= userInfo().username;
  } catch {
    user ??= 'someone';
  }
  return `${user}@${hostname()} (redisforge CLI)`;
}

function done(session: Session, workflowId: string, message: string, extra: Record<string, unknown> = {}): number {
  if (session.json) session.emit({ workflowId, ok: true, message, ...extra });
  else session.info(message);
  return EXIT.ok;
}

function quoted(name: string, flag: string): string {
  if (!/^[A-Za-z0-9._:-]+$/.test(name)) throw usageError(`${flag}: "${name}" has characters a name cannot have (letters, digits, . _ : - only)`);
  return `"${name}"`;
}

/** --operation takes a workflow type (addNode) or a command (add-node). */
function operationType(name: string): string {
  const spec = PROCEDURES.find((p) => p.type === name || p.name === name || `${p.parent ?? ''}-${p.name}` === name);
  if (!spec) throw usageError(`--operation: unknown operation "${name}": use one of ${PROCEDURES.map((p) => p.type).join(', ')}`);
  return spec.type;
}

async function list(session: Session, options: { operation?: string; limit: number; running?: boolean }): Promise<number> {
  const clauses = [
    ...(session.clusterNamed ? [`RedisCluster = ${quoted(session.cluster, '--cluster')}`] : []),
    options.operation ? `RunbookOperation = ${quoted(operationType(options.operation), '--operation')}` : `WorkflowType IN (${Object.keys(inputSchemas).map((t) => `"${t}"`).join(', ')})`,
    ...(options.running ? ['ExecutionStatus = "Running"'] : []),
  ];
  const client = await session.client();
  const runs: WorkflowExecutionInfo[] = [];
  for await (const info of client.workflow.list({ query: clauses.join(' AND '), pageSize: Math.min(options.limit, 1000) })) {
    runs.push(info);
    if (runs.length >= options.limit) break;
  }
  // The server returns running runs first, then by when they closed: the table reads by its first column, newest first.
  runs.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
  const rows = runs.map((r) => ({
    workflowId: r.workflowId,
    runId: r.runId,
    operation: r.typedSearchAttributes.get(runbookOperationKey) ?? r.type,
    cluster: r.typedSearchAttributes.get(redisClusterKey),
    status: r.status.name,
    startTime: r.startTime.toISOString(),
    closeTime: r.closeTime?.toISOString(),
    durationMs: (r.closeTime ?? new Date()).getTime() - r.startTime.getTime(),
  }));
  if (session.json) {
    session.emit(rows);
    return EXIT.ok;
  }
  if (rows.length === 0) {
    session.info(`no operations${session.clusterNamed ? ` on cluster ${session.cluster}` : ''}${options.operation ? ` of type ${options.operation}` : ''} (the filters use the RedisCluster / RunbookOperation search attributes)`);
    return EXIT.ok;
  }
  const table = [['STARTED (UTC)', 'OPERATION', 'CLUSTER', 'STATUS', 'DURATION', 'WORKFLOW ID'], ...rows.map((r) => [r.startTime.slice(0, 19).replace('T', ' '), r.operation, r.cluster ?? '-', r.status, formatDuration(r.durationMs), r.workflowId])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  session.info(table.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n'));
  return EXIT.ok;
}

export function addOperationCommands(program: Command, register: Register): void {
  register(program.command('status').description('State of a workflow: its status, current step, and result or failure').argument('<workflowId>'), (session, _cmd, [id]) => status(session, id as string));

  register(
    program.command('watch').description('Live progress of a workflow until it ends (a bar on a terminal, plain lines otherwise); exit code by its outcome').argument('<workflowId>'),
    async (session, _cmd, [id]) => followAndReport(session, await attachRunbookWorkflow(await session.client(), id as string)),
  );

  register(
    program
      .command('approve')
      .description(`Approve the step a workflow waits on (${workflowsHandling('approve').join(', ')}); recorded in its history`)
      .argument('<workflowId>')
      .option('--by <name>', 'who approves (default: $USER@host)')
      .option('--reason <text>', 'why, recorded with the approval'),
    async (session, cmd, [id]) => {
      const opts = cmd.opts<{ by?: string; reason?: string }>();
      const handle = await running(session, id as string, 'approve');
      const reply = await handle.approve(opts.by ?? operator(session.io.env), opts.reason);
      return done(session, handle.workflowId, `${handle.workflowId}: ${reply}`, { reply });
    },
  );

  // Controls are updates: the workflow answers (or refuses, saying why), and that answer is printed.
  const pausable = [...workflowsHandling('pause'), ...Object.keys(SLOT_MOVING_CHILD)].join(', ');
  const controls: [string, string, (h: RunbookHandle, cmd: Command) => Promise<string>][] = [
    ['pause', `Pause a running ${pausable} at its next safe point (after the current slot batch or shard)`, (h) => h.pause()],
    ['resume', 'Resume a paused workflow', (h) => h.resume()],
    ['abort', 'Stop after the work in flight, leaving no slot open; at an approval gate, decline', (h, cmd) => h.abort(cmd.opts<{ reason?: string }>().reason)],
  ];
  for (const [name, description, send] of controls) {
    const command = program.command(name).description(description).argument('<workflowId>');
    if (name === 'abort') command.option('--reason <text>', 'recorded in the report');
    register(command, async (session, cmd, [id]) => {
      const handle = await running(session, id as string, name);
      const reply = await send(handle, cmd);
      return done(session, handle.workflowId, `${handle.workflowId}: ${reply}`, { reply });
    });
  }

  register(
    program
      .command('throttle')
      .description('Limit the keys moved per second by a rebalance ("off" lifts the limit)')
      .argument('<workflowId>')
      .argument('<keysPerSecond>', 'a number, or off', (v: string) => (v === 'off' ? null : wholeNumber(v))),
    async (session, _cmd, [id, limit]) => {
      if (typeof limit === 'number' && limit < 1) throw usageError('<keysPerSecond>: at least 1, or "off"');
      const handle = await running(session, id as string, 'throttle');
      const reply = await handle.throttle(limit as number | null);
      return done(session, handle.workflowId, `${handle.workflowId}: ${reply} from the next batch on`, { reply });
    },
  );

  register(
    program
      .command('list')
      .description('Recent operations, newest first (by the RedisCluster / RunbookOperation search attributes)')
      .option('--operation <type>', 'only this operation: a workflow type (addNode) or a command (add-node)')
      .addOption(new Option('--limit <n>', 'at most this many').argParser(wholeNumber).default(20))
      .option('--running', 'only running ones')
      .addHelpText('after', '\nFilters by cluster when --cluster or $REDISFORGE_CLUSTER names one; otherwise lists every cluster.\n'),
    async (session, cmd) => {
      const opts = cmd.opts<{ operation?: string; limit: number; running?: boolean }>();
      if (opts.limit < 1) throw usageError('--limit: at least 1');
      return list(session, opts);
    },
  );
}
