/**
 * Starting procedures: flags become the workflow's input, checked by its schema here; short
 * procedures are followed to the end, long ones return their id with the `watch` hint once the
 * workflow has passed its own checks (or with the failure that stopped it there).
 */
import { Command, Option } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import { InvalidInputError, isRunbookWorkflow, startRunbookWorkflow, validateInput, type RunbookHandle, type RunbookWorkflow } from '../sdk';
import { CliError, describeRunFailure, EXIT, explain, usageError } from './errors';
import { commandName, procedureFor, PROCEDURES, type ProcedureSpec } from './procedures';
import { describeProgress, followToEnd, ProgressPrinter } from './progress';
import { formatResult, verdictProblem } from './results';
import type { Session } from './session';

type Action = (session: Session, command: Command, args: unknown[]) => Promise<number>;
export type Register = (command: Command, action: Action) => Command;

function setField(input: Record<string, unknown>, path: string, value: unknown): void {
  const [head, ...rest] = path.split('.');
  const nested = typeof input[head!] === 'object' && input[head!] !== null;
  // A switch and its settings (--big-keys, --scan-seconds 30) make one object, in any order: true is its defaults.
  if (rest.length === 0) {
    if (!(value === true && nested)) input[head!] = value;
  } else {
    if (!nested) input[head!] = {};
    setField(input[head!] as Record<string, unknown>, rest.join('.'), value);
  }
}

/** "retain.count: ..." becomes "--retain-count: ...", "address: ..." becomes "<address>: ...". */
export function nameFlags(spec: ProcedureSpec, problems: string[]): string[] {
  const names: { field: string; name: string }[] = [
    { field: 'cluster', name: '--cluster' },
    ...(spec.args ?? []).map((a) => ({ field: a.field, name: `<${a.name.replace(/[<>[\].]/g, '')}>` })),
    ...spec.flags.map((f) => ({ field: f.field, name: f.flags.split(' ')[0]! })),
  ].sort((a, b) => b.field.length - a.field.length);
  return problems.map((p) => {
    const hit = names.find(({ field }) => p.startsWith(`${field}:`) || p.startsWith(`${field}.`) || p.startsWith(`${field}[`));
    return hit ? `${hit.name}${p.slice(hit.field.length)}` : p;
  });
}

/** The workflow input from the positional arguments and the flags given on the command line. */
export function inputFrom(spec: ProcedureSpec, session: Session, command: Command, args: unknown[]): Record<string, unknown> {
  const input: Record<string, unknown> = spec.noCluster ? {} : { cluster: session.cluster };
  (spec.args ?? []).forEach((a, i) => {
    const value = args[i];
    if (value !== undefined && !(Array.isArray(value) && value.length === 0)) setField(input, a.field, value);
  });
  const options = command.opts();
  for (const flag of spec.flags) {
    const attribute = new Option(flag.flags).attributeName();
    if (command.getOptionValueSource(attribute) === 'cli') setField(input, flag.field, options[attribute] === undefined ? true : options[attribute]);
    else if (flag.fallback) setField(input, flag.field, flag.fallback.value(session.io.env));
  }
  return input;
}

/** Follows a run to its end with live progress, prints the result; the exit code says how it went. */
export async function followAndReport(session: Session, handle: RunbookHandle): Promise<number> {
  const printer = new ProgressPrinter(session.progressSink(), handle.workflowId);
  const type = handle.type ?? (await handle.workflow.describe()).type;
  try {
    const result = await followToEnd(handle, (p) => printer.update(p));
    printer.end();
    const problem = verdictProblem(type, result);
    if (session.json) session.emit({ workflowId: handle.workflowId, type, status: 'succeeded', ...(problem ? { problem } : {}), result });
    else session.info(formatResult(type, result));
    if (problem) session.warn(`redisforge: ${problem}`);
    return problem ? EXIT.failed : EXIT.ok;
  } catch (err) {
    printer.end();
    if (session.json && err instanceof WorkflowFailedError) session.emit({ workflowId: handle.workflowId, type, status: 'failed', failure: describeRunFailure(err) });
    const e = explain(err, { address: session.address() });
    throw new CliError(`${handle.workflowId} ${e.message}`, e.exitCode);
  }
}

async function startAndReport(session: Session, type: RunbookWorkflow, input: Record<string, unknown>, options: { wait: boolean; id?: string }): Promise<number> {
  const client = await session.client();
  const handle = await startRunbookWorkflow(client, type, input as never, { workflowId: options.id, validate: false });
  if (options.wait) {
    session.info(`started ${handle.workflowId}`);
    return followAndReport(session, handle);
  }
  // Returns once the workflow has passed validation and preflight; refused there, or done
  // already, it is reported as a followed run is (its failure and exit code, or its result).
  const check = await handle.untilChecked({ timeoutMs: CHECKS_TIMEOUT_MS });
  if (check.outcome === 'ended') return followAndReport(session, handle);
  const now = check.progress ? describeProgress(check.progress) : undefined;
  if (check.outcome === 'timedOut') {
    session.warn(
      `redisforge: ${handle.workflowId} has not passed its checks within ${CHECKS_TIMEOUT_MS / 1000} s` +
        `${now ? ` (now: ${now})` : ' (no worker has answered: is one polling its task queue?)'}; it goes on without this command`,
    );
  }
  const checked = check.outcome === 'checked';
  if (session.json) session.emit({ workflowId: handle.workflowId, type, status: 'started', checked, ...(check.progress ? { progress: check.progress } : {}) });
  else {
    session.info(
      `started ${handle.workflowId}${checked ? `; its checks passed, now: ${now}` : ''}\n` +
        `  follow it:  redisforge watch ${handle.workflowId}\n  status:     redisforge status ${handle.workflowId}`,
    );
  }
  return EXIT.ok;
}

/** How long a command that does not follow a run to its end waits for its checks (preflight) to pass. */
const CHECKS_TIMEOUT_MS = 120_000;

function waitOptions(command: Command, long: boolean): void {
  command
    .addOption(new Option('--wait', `follow it to the end${long ? '' : ' (the default)'}`))
    .addOption(new Option('--no-wait', `return once its checks (input, preflight) passed, with the workflow id${long ? ' (the default)' : ''}`))
    .addOption(new Option('--id <workflowId>', 'the workflow id (default: <type>-<cluster>-<UTC time>)'));
}

function addProcedure(parent: Command, spec: ProcedureSpec, register: Register): void {
  const command = parent.command(spec.name).description(spec.summary);
  for (const a of spec.args ?? []) command.argument(a.name, a.description);
  for (const f of spec.flags) {
    const option = new Option(f.flags, f.fallback ? `${f.description} (default: ${f.fallback.help})` : f.description);
    if (f.parse) option.argParser(f.parse);
    if (f.choices) option.choices(f.choices);
    if (f.mandatory) option.makeOptionMandatory();
    command.addOption(option);
  }
  waitOptions(command, spec.long);
  command.addHelpText('after', `\nStarts the ${spec.type} workflow.${spec.long ? ' Unless --wait, returns with its id once its checks (input, preflight) have passed, or with their failure.' : ''}\nExamples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}\n`);
  register(command, async (session, cmd, args) => {
    const input = inputFrom(spec, session, cmd, args);
    try {
      validateInput(spec.type, input);
    } catch (err) {
      if (err instanceof InvalidInputError) throw usageError(`invalid input: ${nameFlags(spec, err.problems).join('; ')}\n  see: redisforge ${commandName(spec)} --help`);
      throw err;
    }
    const opts = cmd.opts<{ wait?: boolean; id?: string }>();
    return startAndReport(session, spec.type, input, { wait: opts.wait ?? !spec.long, id: opts.id });
  });
}

export function addProcedureCommands(program: Command, register: Register): void {
  let upgrade: Command | undefined;
  for (const spec of PROCEDURES) {
    if (spec.parent === 'upgrade') upgrade ??= program.command('upgrade').description('Upgrade Redis (upgrade redis <version>) or the Envoy proxy (upgrade envoy <image>)');
    addProcedure(spec.parent === 'upgrade' ? upgrade! : program, spec, register);
  }

  const start = program
    .command('start')
    .description('Start any runbook workflow with a JSON input, as "temporal workflow start --input" would')
    .argument('<workflowType>', `one of: ${PROCEDURES.map((p) => p.type).join(', ')}`)
    .requiredOption('--input <json>', 'the workflow input, e.g. \'{"cluster":"main"}\'');
  waitOptions(start, false);
  register(start, async (session, cmd, [type]) => {
    if (typeof type !== 'string' || !isRunbookWorkflow(type)) throw usageError(`unknown workflow type "${String(type)}": use one of ${PROCEDURES.map((p) => p.type).join(', ')}`);
    const opts = cmd.opts<{ input: string; wait?: boolean; id?: string }>();
    let input: unknown;
    try {
      input = JSON.parse(opts.input);
    } catch (err) {
      throw usageError(`--input is not JSON (${(err as Error).message}): quote it, e.g. --input '{"cluster":"main"}'`);
    }
    validateInput(type, input);
    return startAndReport(session, type, input as Record<string, unknown>, { wait: opts.wait ?? !procedureFor(type)!.long, id: opts.id });
  });
}
