/**
 * The redisforge CLI without a Temporal server: every subcommand's help, bad flags and inputs
 * (exit 2, naming them), an unreachable server (exit 3), and the pure pieces (progress
 * rendering, flag naming, workflow ids).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSummary, defaultWorkflowId, validateInput } from '../../src/client/sdk';
import { onlyInventoryCluster } from '../../src/client/cli/session';
import { commandName, PROCEDURES } from '../../src/client/cli/procedures';
import { ProgressPrinter, progressBar } from '../../src/client/cli/progress';
import { verdictProblem } from '../../src/client/cli/results';
import type { Progress } from '../../src/shared';
import { inPool, redisforge } from '../cli/redisforge';

/** Nothing listens there: a command that tried to reach Temporal would exit 3, not 2. */
const NO_SERVER = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

const HELP: [string[], string[]][] = [
  ...PROCEDURES.map((p): [string[], string[]] => [
    commandName(p).split(' '),
    [...(p.args ?? []).map((a) => a.name), ...p.flags.map((f) => f.flags.split(' ')[0]!), '--wait', '--no-wait', '--json', ...(p.noCluster ? [] : ['--cluster'])],
  ]),
  [['start'], ['<workflowType>', '--input', '--wait', '--no-wait']],
  [['status'], ['<workflowId>', '--json']],
  [['watch'], ['<workflowId>', '--json']],
  [['approve'], ['<workflowId>', '--by', '--reason']],
  [['pause'], ['<workflowId>']],
  [['resume'], ['<workflowId>']],
  [['abort'], ['<workflowId>', '--reason']],
  [['throttle'], ['<workflowId>', '<keysPerSecond>']],
  [['list'], ['--cluster', '--operation', '--limit', '--running', '--json']],
  [['upgrade'], ['redis', 'envoy']],
  [['schedule'], ['backup', 'list', 'pause', 'resume', 'trigger', 'delete']],
  [['schedule', 'backup'], ['--cluster', '--cron', '--tz', '--retain-count', '--retain-days', '--store', '--compression', '--source', '--catchup', '--no-pause-on-failure']],
  [['schedule', 'list'], ['--json']],
  [['schedule', 'pause'], ['--cluster', '--note']],
  [['schedule', 'resume'], ['--cluster']],
  [['schedule', 'trigger'], ['--cluster']],
  [['schedule', 'delete'], ['--cluster']],
  [[], ['health', 'add-node', 'routing-check', 'watch', 'list', 'schedule', 'Exit codes']],
];

test('every subcommand answers --help with exit 0 and lists its arguments and flags', async () => {
  const runs = await inPool(HELP, 3, async ([path, expected]) => ({ path, expected, run: await redisforge([...path, '--help'], NO_SERVER) }));
  for (const { path, expected, run } of runs) {
    expect({ path, code: run.code }).toEqual({ path, code: 0 });
    for (const word of expected) expect({ path, word, mentioned: run.stdout.includes(word) }).toEqual({ path, word, mentioned: true });
  }
  // Each procedure names its workflow type in its help.
  for (const p of PROCEDURES) expect(runs.find((r) => r.path.join(' ') === commandName(p))!.run.stdout).toContain(`Starts the ${p.type} workflow`);
}, 120_000);

const BAD_USAGE: [string, string[], RegExp][] = [
  ['an unknown flag', ['health', '--bogus'], /unknown option '--bogus'/],
  ['an unknown command', ['helth'], /unknown command 'helth'[\s\S]*Did you mean health\?/],
  ['an address without a port', ['add-node', '127.0.0.1', '--role', 'master'], /<address>: expected "host:port"/],
  ['a role that is not one', ['add-node', '127.0.0.1:7001', '--role', 'boss'], /--role <role>' argument 'boss' is invalid. Allowed choices are master, replica/],
  ['a missing --role', ['add-node', '127.0.0.1:7001'], /required option '--role <role>' not specified/],
  ['a value out of range', ['routing-check', '--keys-per-range', '500'], /--keys-per-range: at most 100 keys per slot range/],
  ['a number that is not one', ['failover-test', '--canaries', 'abc'], /--canaries <n>' argument 'abc' is invalid. expected a whole number/],
  ['an empty cluster name', ['backup', '--cluster', ''], /--cluster: must not be empty/],
  ['a bad backup id', ['restore', 'no/slashes'], /<backupId>: expected a backup id/],
  ['a missing argument', ['restore'], /missing required argument 'backupId'/],
  ['a whole image reference as a Redis version', ['upgrade', 'redis', 'redis:8.0.2'], /<version>: expected an image tag or a version name/],
  ['an input that is not JSON', ['start', 'clusterHealth', '--input', '{cluster'], /--input is not JSON/],
  ['a field of the wrong type', ['start', 'clusterHealth', '--input', '{"cluster": 1}'], /cluster: expected a string/],
  ['a throttle that is not a number', ['throttle', 'some-id', 'fast'], /invalid for argument 'keysPerSecond'/],
  ['a schedule command without a cluster', ['schedule', 'pause'], /schedule pause: --cluster is required/],
  ['a cron expression that is not one', ['schedule', 'backup', '--cluster', 'main', '--cron', 'every night'], /--cron: "every night" is not a 5-field cron expression/],
  ['a list limit of 0', ['list', '--limit', '0'], /--limit: at least 1/],
  ['a scan budget out of range', ['health', '--big-keys', '--scan-seconds', '900'], /--scan-seconds: Too big: expected number to be <=600/],
  ['a weighing that is not one', ['rebalance', '--weigh-by', 'bytes'], /--weigh-by <what>' argument 'bytes' is invalid. Allowed choices are slots, memory/],
  ['a memory fraction over 1', ['remove-node', '127.0.0.1:7001', '--max-memory-after', '1.5'], /--max-memory-after: Too big: expected number to be <=1/],
  ['a rotation without --user', ['rotate-credentials'], /required option '--user <role>' not specified/],
  ['a user that is not a role', ['rotate-credentials', '--user', 'root'], /Allowed choices are operator, replication, application/],
  // The probe address comes from the inventory (clientEndpoint), never from the command line.
  ['routing-check --endpoint', ['routing-check', '--endpoint', '127.0.0.3:7390'], /unknown option '--endpoint'/],
];

test('bad usage and bad input exit 2 before anything starts, naming the flag or argument', async () => {
  const runs = await inPool(BAD_USAGE, 3, async ([what, args, message]) => ({ what, message, run: await redisforge(args, NO_SERVER) }));
  for (const { what, message, run } of runs) {
    expect({ what, code: run.code, stdout: run.stdout }).toEqual({ what, code: 2, stdout: '' });
    expect({ what, stderr: run.stderr }).toEqual({ what, stderr: expect.stringMatching(message) });
  }
}, 120_000);

test('no Temporal at the address: exit 3, naming the address and how to point the CLI elsewhere', async () => {
  const [health, status] = await Promise.all([redisforge(['health', '--cluster', 'health', '--json'], NO_SERVER), redisforge(['status', 'x'], NO_SERVER)]);
  for (const run of [health, status]) {
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1 .*TEMPORAL_ADDRESS \/ --address/);
  }
  expect(health.stdout).toBe('');
}, 60_000);

const progress = (over: Partial<Progress>): Progress => ({ operation: 'rebalance', cluster: 'main', step: 'Plan the moves', stepsDone: 1, stepsTotal: 5, state: 'running', ...over });

test('progress: a bar redrawn in place on a terminal, one line per change otherwise', () => {
  const steps = [
    progress({}),
    progress({ step: 'Move slots', stepsDone: 3, migration: { slotsTotal: 100, slotsDone: 10, keysMoved: 500, keysPerSecond: 250, paused: false, aborting: false } }),
    progress({ step: 'Move slots', stepsDone: 3, migration: { slotsTotal: 100, slotsDone: 50, keysMoved: 2500, keysPerSecond: 250, paused: true, aborting: false } }),
    progress({ step: 'succeeded', stepsDone: 5, state: 'succeeded' }),
  ];
  let tty = '';
  const onTty = new ProgressPrinter({ write: (t) => (tty += t), isTTY: true, columns: 200 }, 'id-1');
  steps.forEach((p) => onTty.update(p));
  onTty.end();
  const clear = '\r\x1b[2K';
  // A new step starts a new line (the old one stays as a log); within a step the line is redrawn.
  expect(tty.split('\n')).toEqual([
    `${clear}${progressBar(0.2)} rebalance main: step 2/5 Plan the moves`,
    `${progressBar(0.62)} rebalance main: step 4/5 Move slots [10/100 slots, 500 keys, 250 keys/s]` +
      `${clear}${progressBar(0.7)} rebalance main: step 4/5 Move slots [50/100 slots, 2500 keys, 250 keys/s, PAUSED]`,
    `${progressBar(1)} rebalance main: succeeded`,
    '',
  ]);
  expect(progressBar(0.7)).toBe('[##############------]  70%');

  let plain = '';
  const onPipe = new ProgressPrinter({ write: (t) => (plain += t), isTTY: false, columns: 80 }, 'id-1');
  steps.forEach((p) => onPipe.update(p));
  onPipe.update(progress({ operation: 'restoreCluster', step: 'Wait for approval', detail: '**approval needed**: every node of `main` will be stopped\n\n| table |' }));
  expect(plain.split('\n')).toEqual([
    'rebalance main: step 2/5 Plan the moves',
    'rebalance main: step 4/5 Move slots [10/100 slots, 500 keys, 250 keys/s]',
    'rebalance main: succeeded',
    'restoreCluster main: step 2/5 Wait for approval - approval needed: every node of main will be stopped',
    '  -> waiting for approval: redisforge approve id-1 --by <your name> [--reason <text>]',
    '',
  ]);
});

test('workflow ids, summaries, local validation and verdicts', () => {
  expect(defaultWorkflowId('rebalance', { cluster: 'main' }, new Date('2026-11-27T03:15:00.123Z'))).toBe('rebalance-main-20261127T031500123Z');
  expect(defaultWorkflowId('upgradeEnvoy', { proxy: 'envoy', image: 'x' }, new Date('2026-11-27T03:15:00.123Z'))).toBe('upgradeEnvoy-envoy-20261127T031500123Z');
  expect(defaultSummary('restoreCluster', { cluster: 'main', backupId: 'b', dryRun: true })).toBe('restoreCluster on cluster main (dry run)');
  expect(() => validateInput('addNode', { cluster: 'main', address: 'x', role: 'boss' })).toThrow(/invalid input for addNode: address: expected "host:port".*; role: expected "master" or "replica"/);
  expect(verdictProblem('clusterHealth', { cluster: 'main', healthy: false })).toMatch(/not healthy/);
  expect(verdictProblem('clusterHealth', { cluster: 'main', healthy: true })).toBeUndefined();
  expect(verdictProblem('rebalance', { aborted: 'by signal' })).toBe('aborted: by signal');
  const diagnosed = (severity: string) => ({ cluster: 'main', healthy: true, diagnosis: { findings: [{ code: 'MEMORY_NEAR_LIMIT', severity }] } });
  expect(verdictProblem('clusterHealth', diagnosed('critical'))).toBe('the diagnosis of cluster main has critical findings: see above');
  expect(verdictProblem('clusterHealth', diagnosed('warning'))).toBeUndefined();
});

test('the default cluster: the only cluster of the inventory this machine has, else none (then "main")', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redisforge-inv-'));
  const write = (name: string, body: string) => (writeFileSync(join(dir, name), body), join(dir, name));
  try {
    expect(onlyInventoryCluster({ REDISFORGE_INVENTORY: write('one.json', JSON.stringify({ clusters: { payments: { nodes: [] } } })) })).toBe('payments');
    expect(onlyInventoryCluster({ REDISFORGE_INVENTORY: write('two.json', JSON.stringify({ clusters: { a: {}, b: {} } })) })).toBeUndefined();
    expect(onlyInventoryCluster({ REDISFORGE_INVENTORY: write('bad.json', '{ not json') })).toBeUndefined();
    expect(onlyInventoryCluster({ REDISFORGE_INVENTORY: join(dir, 'missing.json') })).toBeUndefined();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
