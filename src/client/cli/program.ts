/**
 * The redisforge command line: one subcommand per runbook procedure, plus status, watch,
 * approve, pause, resume, abort, throttle, list, schedule, codec-server and worker. runCli returns the exit code
 * (see errors.ts) and never exits the process, so tests and wrappers can call it.
 */
import { Command, CommanderError, Option } from 'commander';
import { version } from '../../../package.json';
import { addCodecServerCommand } from './codecServer';
import { EXIT, explain } from './errors';
import { addOperationCommands } from './operations';
import { addScheduleCommands } from './schedule';
import { processIo, Session, type CliIo, type GlobalOptions } from './session';
import { addProcedureCommands, type Register } from './start';
import { addWorkerCommand } from './worker';

const HELP_AFTER = `
Connection: like the Temporal CLI (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_*, TEMPORAL_PROFILE and its config file); --address and --namespace override.
Payload encryption: REDISFORGE_CODEC_KEYS or REDISFORGE_CODEC_KEYS_FILE, the worker's keys.
Exit codes: 0 succeeded, 1 the procedure failed (or found a problem, e.g. an unhealthy cluster),
2 bad usage or input, 3 Temporal cannot be reached.`;

function buildProgram(io: CliIo, globals: GlobalOptions, register: Register): Command {
  const program = new Command('redisforge')
    .description('The RedisForge runbook as durable Temporal workflows: start procedures, follow, approve and steer them')
    .version(version, '-V, --version')
    .addOption(new Option('--cluster <name>', 'the cluster, by its name in the worker\'s inventory (default: $REDISFORGE_CLUSTER, the only cluster of $REDISFORGE_INVENTORY or ./redisforge.json, or "main")'))
    .option('--json', 'machine output: one JSON document on stdout (progress and messages go to stderr)')
    .option('--address <host:port>', 'the Temporal frontend (default: $TEMPORAL_ADDRESS, the profile, or localhost:7233)')
    .option('--namespace <name>', 'the Temporal namespace (default: $TEMPORAL_NAMESPACE, the profile, or "default")')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError('(add --help to see the arguments and flags)')
    .showSuggestionAfterError()
    .addHelpText('after', HELP_AFTER);
  program.hook('preAction', () => void Object.assign(globals, program.opts<GlobalOptions>()));
  addProcedureCommands(program, register);
  addOperationCommands(program, register);
  addScheduleCommands(program, register);
  addCodecServerCommand(program, register);
  addWorkerCommand(program, register);
  return program;
}

export async function runCli(argv: string[], io: CliIo = processIo()): Promise<number> {
  const globals: GlobalOptions = {};
  const session = new Session(io, globals);
  let exitCode: number = EXIT.ok;
  let current = '';
  const register: Register = (command, action) =>
    command.action(async (...params: unknown[]) => {
      // Commander passes the arguments, then the options object, then the command itself.
      const cmd = params.at(-1) as Command;
      current = [cmd.parent?.name() === 'redisforge' ? '' : cmd.parent?.name(), cmd.name()].filter(Boolean).join(' ');
      exitCode = await action(session, cmd, params.slice(0, -2));
    });
  const program = buildProgram(io, globals, register);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end with 0; every other commander error (already printed) is bad usage.
      // ("commander.help" with exit code 1 is help shown because no subcommand was given.)
      const asked = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || (err.code === 'commander.help' && err.exitCode === 0);
      return asked ? EXIT.ok : EXIT.usage;
    }
    const e = explain(err, { address: session.address(), command: current });
    io.stderr(`redisforge${current ? ` ${current}` : ''}: ${e.message}\n`);
    return e.exitCode;
  } finally {
    await session.close();
  }
}
