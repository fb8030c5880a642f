/**
 * One subcommand per runbook procedure: its words, and which input field each argument and
 * flag sets. The values are checked by the workflow's own zod schema before anything starts.
 */
import { InvalidArgumentError } from 'commander';
import type { RunbookWorkflow } from '../sdk';
import { ACL_PROCEDURES } from './aclProcedures';

export interface FlagSpec {
  /** Commander syntax: "--role <role>", "--dry-run", "--no-failback". */
  flags: string;
  description: string;
  /** The input field it sets; dotted when nested ("retain.count"). */
  field: string;
  parse?: (value: string, previous: unknown) => unknown;
  choices?: readonly string[];
  mandatory?: boolean;
  /** The value when the flag is not given, e.g. from the environment (shown in the help). */
  fallback?: { value: (env: NodeJS.ProcessEnv) => string; help: string };
}

export interface ArgSpec {
  /** "<address>", "[backupId]", "[nodes...]" */
  name: string;
  description: string;
  field: string;
}

export interface ProcedureSpec {
  /** The subcommand; under `parent` when given ("upgrade redis"). */
  name: string;
  parent?: 'upgrade';
  type: RunbookWorkflow;
  summary: string;
  args?: ArgSpec[];
  flags: FlagSpec[];
  /** Long procedures start and print the id (--wait to follow); short ones are followed to the end (--no-wait to return). */
  long: boolean;
  /** The input names no cluster (upgradeEnvoy names a proxy). */
  noCluster?: boolean;
  examples: string[];
}

export function wholeNumber(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
  return Number(value);
}

export function decimalNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return n;
}

const collect = (value: string, previous: unknown) => [...((previous as string[] | undefined) ?? []), value];

function weight(value: string, previous: unknown): Record<string, number> {
  const match = /^(.+)=([^=]+)$/.exec(value);
  if (!match) throw new InvalidArgumentError(`expected <node>=<weight>, e.g. 127.0.0.1:7001=2, got "${value}"`);
  return { ...((previous as Record<string, number> | undefined) ?? {}), [match[1]!]: decimalNumber(match[2]!) };
}

const timeout = (what: string, dflt: number): FlagSpec => ({ flags: '--timeout <seconds>', description: `the longest ${what} may take (default ${dflt})`, field: 'timeoutSeconds', parse: wholeNumber });
const dryRun = (what: string): FlagSpec => ({ flags: '--dry-run', description: `${what} without touching anything`, field: 'dryRun' });
const approve = (what: string): FlagSpec => ({ flags: '--approve', description: `pre-approve ${what} (otherwise it waits for "redisforge approve <id>")`, field: 'approve' });
const store: FlagSpec = { flags: '--store <name>', description: "a store in the worker's inventory (default: the cluster's backupStore)", field: 'store' };

export const PROCEDURES: ProcedureSpec[] = [
  {
    name: 'health', type: 'clusterHealth', long: false,
    summary: 'Check Cluster Health: CLUSTER INFO and NODES from every node, one verdict with every finding (exit 1 when unhealthy)',
    flags: [
      { flags: '--expected-masters <n>', description: 'masters the cluster should have (default from the inventory)', field: 'expectedMasters', parse: wholeNumber },
      { flags: '--expected-replicas-per-master <n>', description: 'replicas each master should have (default from the inventory)', field: 'expectedReplicasPerMaster', parse: wholeNumber },
      { flags: '--no-diagnose', description: 'skip the diagnosis (memory, evictions, replication lag, clients, latency, slow log, load per shard)', field: 'diagnose' },
      { flags: '--big-keys', description: 'also find the largest keys of each shard by scanning a replica (never a master)', field: 'bigKeys' },
      { flags: '--scan-seconds <s>', description: 'the longest one shard\'s big-key scan may take (default 10; implies --big-keys)', field: 'bigKeys.seconds', parse: wholeNumber },
      { flags: '--scan-rate <keys>', description: 'keys asked about per second on each replica (default 5000; implies --big-keys)', field: 'bigKeys.keysPerSecond', parse: wholeNumber },
      { flags: '--top <n>', description: 'largest keys kept per shard (default 10; implies --big-keys)', field: 'bigKeys.top', parse: wholeNumber },
      { flags: '--big-key-bytes <n>', description: 'a key at least this large is a finding (default 1048576)', field: 'thresholds.bigKeyBytes', parse: wholeNumber },
      { flags: '--heal', description: 'when the cluster is down and no operation holds it, start repairCluster (giving away unserved slots still waits for approval)', field: 'heal' },
    ],
    examples: ['redisforge health --cluster main', 'redisforge health --big-keys --scan-seconds 30', 'redisforge health --json | jq .result.diagnosis.findings'],
  },
  {
    name: 'create', type: 'createCluster', long: false,
    summary: 'Create the cluster from empty nodes, like redis-cli --cluster create',
    args: [{ name: '[nodes...]', description: '"host:port" of each empty node (default: the cluster\'s nodes in the inventory)', field: 'nodes' }],
    flags: [
      { flags: '--replicas-per-master <n>', description: 'default from the inventory', field: 'replicasPerMaster', parse: wholeNumber },
      { flags: '--provision', description: "first start every node through the cluster's runtime, each on its own host's agent (a node that answers is left as it is)", field: 'provision' },
      timeout('the nodes', 120),
      dryRun('return the layout'),
    ],
    examples: ['redisforge create --cluster main --dry-run', 'redisforge create 10.0.0.1:7001 10.0.0.2:7001 10.0.0.3:7001 --replicas-per-master 0', 'redisforge create --cluster main --provision --wait'],
  },
  {
    name: 'failover-test', type: 'failoverTest', long: false,
    summary: "Failover Test: stop a master, time its replica's promotion, check the canary keys, restart it and fail back",
    flags: [
      { flags: '--master <node>', description: 'the master to fail, node id or "host:port" (default: the first with an in-sync replica)', field: 'master' },
      { flags: '--mode <mode>', description: 'stop (docker stop), kill (a crash) or manual (CLUSTER FAILOVER) (default stop)', field: 'mode', choices: ['stop', 'kill', 'manual'] },
      { flags: '--no-failback', description: 'leave the roles swapped at the end', field: 'failback' },
      { flags: '--canaries <n>', description: 'canary keys written to the master (default 100)', field: 'canaries', parse: wholeNumber },
      timeout('any one wait', 120),
      dryRun('return the plan'),
    ],
    examples: ['redisforge failover-test --cluster main', 'redisforge failover-test --mode kill --master 10.0.0.1:7001'],
  },
  {
    name: 'add-node', type: 'addNode', long: false,
    summary: 'Adding a Node: CLUSTER MEET, then a master gets its share of slots, a replica syncs with its master',
    args: [{ name: '<address>', description: 'the new node, "host:port"', field: 'address' }],
    flags: [
      { flags: '--role <role>', description: 'master or replica', field: 'role', choices: ['master', 'replica'], mandatory: true },
      { flags: '--replica-of <node>', description: "a replica's master, node id or \"host:port\" (default: the master with the fewest replicas)", field: 'replicaOf' },
      { flags: '--no-rebalance', description: 'a master: move no slots onto it', field: 'rebalance' },
      timeout('one wait', 120),
    ],
    examples: ['redisforge add-node 10.0.0.7:7007 --role master', 'redisforge add-node 10.0.0.8:7008 --role replica --replica-of 3f2a...'],
  },
  {
    name: 'remove-node', type: 'removeNode', long: false,
    summary: 'Removing a Node: drain its slots, re-point its replicas, CLUSTER FORGET everywhere, stop it',
    args: [{ name: '<node>', description: 'node id or "host:port"', field: 'node' }],
    flags: [
      approve('giving a dead master\'s slots away (their keys are lost)'),
      { flags: '--no-stop', description: 'leave the node running once it is out', field: 'stop' },
      { flags: '--weigh-by <what>', description: 'share its slots out evenly by count or by the masters\' data (default slots)', field: 'weighBy', choices: ['slots', 'memory'] },
      { flags: '--max-memory-after <fraction>', description: 'refuse when a master taking its slots would pass this fraction of its maxmemory (default 0.9)', field: 'maxMemoryAfter', parse: decimalNumber },
      timeout('one wait', 120),
    ],
    examples: ['redisforge remove-node 10.0.0.7:7007', 'redisforge remove-node 3f2a... --cluster main'],
  },
  {
    name: 'rebalance', type: 'rebalance', long: true,
    summary: 'Rebalance slots over the masters (pause, resume, abort and throttle it while it runs)',
    flags: [
      { flags: '--weight <node=weight>', description: 'weight of a master, repeatable (default 1 each; 0 drains it)', field: 'weights', parse: weight },
      { flags: '--drain <node>', description: 'a master to empty, repeatable', field: 'drain', parse: collect },
      { flags: '--weigh-by <what>', description: 'share out slot counts or the masters\' data (default slots)', field: 'weighBy', choices: ['slots', 'memory'] },
      { flags: '--max-memory-after <fraction>', description: 'refuse a plan that fills a receiving master past this fraction of its maxmemory (default 0.9)', field: 'maxMemoryAfter', parse: decimalNumber },
      { flags: '--threshold <percent>', description: 'move nothing while every master is within this % of its share (default 2)', field: 'thresholdPercent', parse: decimalNumber },
      { flags: '--no-use-empty-masters', description: 'give no slots to masters that have none', field: 'useEmptyMasters' },
      { flags: '--slots-per-batch <n>', description: 'slots per migration activity (default 64)', field: 'slotsPerBatch', parse: wholeNumber },
      { flags: '--keys-per-migrate <n>', description: 'keys per MIGRATE call (default 1000)', field: 'keysPerMigrate', parse: wholeNumber },
      { flags: '--no-parallel', description: 'one (source, target) pair at a time', field: 'parallel' },
      { flags: '--max-keys-per-second <n>', description: 'initial throttle', field: 'maxKeysPerSecond', parse: wholeNumber },
      { flags: '--max-key-bytes <n>', description: 'refuse keys larger than this (default 64 MiB)', field: 'maxKeyBytes', parse: wholeNumber },
      { flags: '--allow-large-keys', description: 'move large keys anyway', field: 'allowLargeKeys' },
      { flags: '--batches-per-run <n>', description: 'continue as new after this many batches (default 200)', field: 'batchesPerRun', parse: wholeNumber },
      dryRun('return the plan'),
    ],
    examples: ['redisforge rebalance --cluster main --dry-run --wait', 'redisforge rebalance --drain 10.0.0.3:7003 --max-keys-per-second 5000', 'redisforge rebalance --weigh-by memory --dry-run --wait'],
  },
  {
    name: 'backup', type: 'backupCluster', long: false,
    summary: 'Trigger Manual Backup: each shard\'s AOF (from a replica by preference) to the store, manifest last, then retention',
    flags: [
      { flags: '--source <role>', description: 'replica or master (default replica)', field: 'source', choices: ['replica', 'master'] },
      { flags: '--retain-count <n>', description: 'keep the newest n complete backups', field: 'retain.count', parse: wholeNumber },
      { flags: '--retain-days <days>', description: 'keep complete backups younger than this', field: 'retain.days', parse: decimalNumber },
      store,
      { flags: '--compression <kind>', description: 'none or gzip (default none)', field: 'compression', choices: ['none', 'gzip'] },
      { flags: '--backup-id <id>', description: 'default: from the start time', field: 'backupId' },
      timeout('an AOF rewrite', 600),
    ],
    examples: ['redisforge backup --cluster main --retain-count 14', 'redisforge backup --store s3 --json | jq -r .result.backupId'],
  },
  {
    name: 'restore', type: 'restoreCluster', long: true,
    summary: 'Restore from Backup: check the backup, wait for approval, stop all nodes, load each shard, start, verify key counts',
    args: [{ name: '<backupId>', description: 'as backup printed it, e.g. 20261127T030000Z-1a2b3c', field: 'backupId' }],
    flags: [
      { flags: '--from <cluster>', description: 'the cluster the backup was taken of (default: the same cluster)', field: 'from' },
      store,
      approve('stopping every node and replacing its data'),
      dryRun('check the backup and return the plan'),
      timeout('one wait', 300),
    ],
    examples: ['redisforge restore 20261127T030000Z-1a2b3c --cluster main --dry-run --wait', 'redisforge restore 20261127T030000Z-1a2b3c --from prod --cluster staging --approve'],
  },
  {
    name: 'verify-backup', type: 'verifyBackup', long: true,
    summary: 'Restore a backup onto scratch nodes and compare key counts (the restore drill)',
    args: [{ name: '[backupId]', description: 'default: the newest complete backup', field: 'backupId' }],
    flags: [store, { flags: '--base-port <port>', description: 'first port of the scratch cluster on 127.0.0.1 (default: the first of clusters.<name>.scratchPorts)', field: 'basePort', parse: wholeNumber }, timeout('one wait', 300)],
    examples: ['redisforge verify-backup --cluster main --wait'],
  },
  {
    name: 'repair', type: 'repairCluster', long: true,
    summary: '"CLUSTERDOWN Hash slot not served": restart failed nodes, close open slots, assign uncovered slots (after approval)',
    flags: [
      { flags: '--no-restart-failed-nodes', description: 'do not start members that are down', field: 'restartFailedNodes' },
      { flags: '--assign-uncovered', description: 'give slots no live master serves to live masters (their keys may be gone)', field: 'assignUncovered' },
      approve('assigning uncovered slots'),
      dryRun('return the plan'),
      timeout('one wait', 120),
    ],
    examples: ['redisforge repair --cluster main --dry-run --wait', 'redisforge repair --assign-uncovered'],
  },
  {
    name: 'redis', parent: 'upgrade', type: 'upgradeRedis', long: true,
    summary: 'Upgrade Redis Version: shard by shard, replicas first, CLUSTER FAILOVER, then the old master (pause, resume, abort)',
    args: [{ name: '<version>', description: 'image tag or version name in the runtime, e.g. 8.0.2', field: 'version' }],
    flags: [
      { flags: '--shards-in-parallel <n>', description: 'shards upgraded at the same time (default 1)', field: 'shardsInParallel', parse: wholeNumber },
      { flags: '--failback', description: "give each shard's old master its role back", field: 'failback' },
      approve('downtime of shards without a replica'),
      timeout('one wait', 300),
      { flags: '--health-settle <seconds>', description: 'how long health may take to recover between shards (default 30)', field: 'healthSettleSeconds', parse: wholeNumber },
      dryRun('return the plan'),
    ],
    examples: ['redisforge upgrade redis 8.0.2 --cluster main --dry-run --wait', 'redisforge upgrade redis 8.0.2 --shards-in-parallel 2'],
  },
  {
    name: 'envoy', parent: 'upgrade', type: 'upgradeEnvoy', long: true, noCluster: true,
    summary: 'Upgrade Envoy: replace the proxy container with the new image, await readiness, roll back on failure',
    args: [{ name: '<image>', description: 'the image to run, e.g. redisforge/envoy:v1.32.1', field: 'image' }],
    flags: [
      { flags: '--proxy <name>', description: "the proxy in the worker's inventory", field: 'proxy', fallback: { value: (env) => env.REDISFORGE_PROXY ?? 'envoy', help: '$REDISFORGE_PROXY or "envoy"' } },
      timeout('the new container to get ready', 60),
      dryRun('check the proxy and the image'),
    ],
    examples: ['redisforge upgrade envoy redisforge/envoy:v1.32.1 --wait'],
  },
  {
    name: 'routing-check', type: 'routingCheck', long: false,
    summary: '"MOVED" Errors: touch keys in every slot range through the client endpoint and directly; tell whether redirects reach clients',
    flags: [
      { flags: '--keys-per-range <n>', description: 'keys written and read per slot range (default 3)', field: 'keysPerRange', parse: wholeNumber },
      { flags: '--node <host:port>', description: 'the node for the direct check (default: the master of slot 0)', field: 'node' },
    ],
    examples: ['redisforge routing-check --cluster main'],
  },
  ...ACL_PROCEDURES,
];

export function procedureFor(type: string): ProcedureSpec | undefined {
  return PROCEDURES.find((p) => p.type === type);
}

/** "add-node" or "upgrade redis". */
export function commandName(spec: ProcedureSpec): string {
  return spec.parent ? `${spec.parent} ${spec.name}` : spec.name;
}
