/**
 * Workflow inputs: one plain JSON object each, as `temporal workflow start --input` and the
 * Web UI send them. The client SDK infers its types from these schemas.
 */
import { z } from 'zod';
import { DEFAULT_APPROVAL_TIMEOUT_SECONDS } from '../shared';
import { BACKUP_ID_PATTERN } from '../cluster/backup';

// The workflow bundler drops zod's side-effect import of its English messages; load them here
// so errors read "expected string, received number", not "Invalid input".
z.config(z.locales.en());

/** The inventory's names (src/config.ts): a scratch cluster is verifyBackup's own, never an input. */
export const CLUSTER_NAME = /^[A-Za-z0-9_-]+$/;

export const clusterName = z
  .string({ error: (iss) => (iss.input === undefined ? 'required: the inventory name of the cluster, e.g. "main"' : 'expected a string, the inventory name of the cluster') })
  .min(1, 'must not be empty: the inventory name of the cluster, e.g. "main"')
  .regex(CLUSTER_NAME, 'expected the inventory name of a cluster (letters, digits, "_" and "-"), e.g. "main"');

/** A field that is not an input (any more): refused by name, saying where the value comes from. */
function notAnInput(why: string) {
  return z.never({ error: `not an input: ${why}` }).optional();
}

const address = z.string().regex(/^[A-Za-z0-9._-]+:\d{1,5}$/, 'expected "host:port", e.g. "127.0.0.1:7001"');

/** How a big-key scan is bounded, per shard (shards are scanned in parallel). */
const bigKeyScan = z
  .object({
    /** The longest one shard's scan may take. @default 10 */
    seconds: z.int().min(1).max(600).default(10),
    /** Keys asked about per second on each replica. @default 5000 */
    keysPerSecond: z.int().min(10).max(100_000).default(5000),
    /** The largest keys kept per shard. @default 10 */
    top: z.int().min(1).max(100).default(10),
  })
  .strict();
export const BIG_KEY_SCAN_DEFAULTS = bigKeyScan.parse({});

export const clusterHealthInput = z
  .object({
    cluster: clusterName,
    /** Masters the cluster should have; default from the inventory. */
    expectedMasters: z.int().min(1).optional(),
    /** Replicas each master should have; default from the inventory. */
    expectedReplicasPerMaster: z.int().min(0).optional(),
    /** Also read every node's memory, evictions, replication lag, clients, latency and slow log, and the load per shard (read-only, cheap). @default true */
    diagnose: z.boolean().default(true),
    /** Also find the largest keys of each shard by scanning one of its replicas (never a master); true for the defaults. */
    bigKeys: z.union([z.boolean(), bigKeyScan]).optional(),
    /**
     * Self-healing: when the cluster is down (cluster_state:fail, slots not served, a node flagged
     * fail) and no operation holds it, start repairCluster (workflow id repairCluster-heal-<cluster>):
     * it restarts what is down and closes open slots, which loses nothing; giving away slots no live
     * node serves still waits for its approval. @default false
     */
    heal: z.boolean().default(false),
    /** Where the diagnosis's findings start: fractions of maxmemory, bytes behind, times the mean. */
    thresholds: z
      .object({
        memoryWarning: z.number().gt(0).max(1).optional(),
        memoryCritical: z.number().gt(0).max(1).optional(),
        replicaLagBytes: z.int().min(0).optional(),
        skewRatio: z.number().min(1).optional(),
        bigKeyBytes: z.int().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ClusterHealthInput = z.input<typeof clusterHealthInput>;

export const createClusterInput = z
  .object({
    cluster: clusterName,
    /** The empty nodes to build from; default: the cluster's nodes in the inventory. */
    nodes: z.array(address).min(3, 'give at least 3 nodes (a cluster needs 3 masters)').optional(),
    /** Default from the inventory. */
    replicasPerMaster: z.int().min(0).max(5).optional(),
    /** Return the plan without touching any node. @default false */
    dryRun: z.boolean().default(false),
    /**
     * First start every node through the cluster's runtime, each on its own host (fresh machines:
     * a node that answers already is left as it is). @default false
     */
    provision: z.boolean().default(false),
    /** How long to wait for the nodes to agree. @default 120 */
    timeoutSeconds: z.int().min(5).max(3600).default(120),
  })
  .strict();
export type CreateClusterInput = z.input<typeof createClusterInput>;

export const failoverTestInput = z
  .object({
    cluster: clusterName,
    /** The master to fail: its node id or "host:port". Default: the first with an in-sync replica. */
    master: z.string().min(1).optional(),
    /**
     * stop: docker stop / SIGTERM; kill: SIGKILL, as a crash; manual: CLUSTER FAILOVER on the
     * replica, nothing is stopped. @default "stop"
     */
    mode: z.enum(['stop', 'kill', 'manual'], { error: 'expected one of "stop", "kill", "manual"' }).default('stop'),
    /** Give the old master its role back at the end (coordinated CLUSTER FAILOVER). @default true */
    failback: z.boolean().default(true),
    /** How many canary keys to write to the master's slots. @default 100 */
    canaries: z.int().min(1).max(10_000).default(100),
    /** The longest any one wait may take. @default 120 */
    timeoutSeconds: z.int().min(5).max(3600).default(120),
    /** Return the plan (master, replica, canaries) without touching anything. @default false */
    dryRun: z.boolean().default(false),
  })
  .strict();
export type FailoverTestInput = z.input<typeof failoverTestInput>;

const nodeRef = z.string().min(1, 'a node id or "host:port"');

export const rebalanceInput = z
  .object({
    cluster: clusterName,
    /** Weight per master (node id or "host:port"); default 1 each, 0 drains a master. */
    weights: z.record(z.string(), z.number().min(0)).optional(),
    /** Masters to empty (weight 0). */
    drain: z.array(nodeRef).optional(),
    /** What the weights share out: slot counts, or the masters' data (bytes per slot from key counts). @default "slots" */
    weighBy: z.enum(['slots', 'memory'], { error: 'expected "slots" or "memory"' }).default('slots'),
    /** Refuse a plan that would fill a receiving master past this fraction of its maxmemory (masters without a limit are not judged). @default 0.9 */
    maxMemoryAfter: z.number().gt(0).max(1).default(0.9),
    /** Move nothing while every master is within this percentage of its share. @default 2 */
    thresholdPercent: z.number().min(0).max(100).default(2),
    /** Give slots to masters that have none. @default true */
    useEmptyMasters: z.boolean().default(true),
    /** Slots per migration activity; pause and abort take effect between batches. @default 64 */
    slotsPerBatch: z.int().min(1).max(4096).default(64),
    /** Keys per MIGRATE call. @default 1000 */
    keysPerMigrate: z.int().min(1).max(100_000).default(1000),
    /** Move slots between different (source, target) pairs at the same time. @default true */
    parallel: z.boolean().default(true),
    /** Initial throttle (keys per second); a `throttle` signal changes it. */
    maxKeysPerSecond: z.int().min(1).optional(),
    /** Refuse to move keys larger than this (MEMORY USAGE of sampled keys). @default 64 MiB */
    maxKeyBytes: z.int().min(1).default(64 * 1024 * 1024),
    /** Move large keys anyway. @default false */
    allowLargeKeys: z.boolean().default(false),
    /** Return the plan without moving anything. @default false */
    dryRun: z.boolean().default(false),
    /** Continue as new after this many batches, to bound the history. @default 200 */
    batchesPerRun: z.int().min(1).max(10_000).default(200),
    /** Refused: the state a continued run carries is the workflow's own second argument. */
    resume: notAnInput('the state of a rebalance is carried by the workflow itself from one run to the next; start a new rebalance to move slots'),
  })
  .strict();
export type RebalanceInput = z.input<typeof rebalanceInput>;

export const addNodeInput = z
  .object({
    cluster: clusterName,
    /** The new node's "host:port". With a runtime, an address nothing answers on gets a new node. */
    address,
    role: z.enum(['master', 'replica'], { error: 'expected "master" or "replica"' }),
    /** For a replica: its master's id or "host:port"; default the master with the fewest replicas. */
    replicaOf: nodeRef.optional(),
    /** For a master: move a fair share of slots onto it. @default true */
    rebalance: z.boolean().default(true),
    /** @default 120 */
    timeoutSeconds: z.int().min(5).max(3600).default(120),
  })
  .strict();
export type AddNodeInput = z.input<typeof addNodeInput>;

export const removeNodeInput = z
  .object({
    cluster: clusterName,
    /** The node's id or "host:port". */
    node: nodeRef,
    /** Pre-approve what needs approval (a dead master that still owns slots). @default false */
    approve: z.boolean().default(false),
    /** How long the approval gate waits for the approve update before it declines. @default 86400 (24 h) */
    approvalTimeoutSeconds: z.int().min(1).max(30 * 86_400).default(DEFAULT_APPROVAL_TIMEOUT_SECONDS),
    /** Stop the node through the runtime once it is out. @default true */
    stop: z.boolean().default(true),
    /** How the drain shares a master's slots out (rebalance's weighBy): evenly by slot count or by the masters' data. @default "slots" */
    weighBy: z.enum(['slots', 'memory'], { error: 'expected "slots" or "memory"' }).optional(),
    /** Refuse to drain a master when a master taking its slots would pass this fraction of its maxmemory. @default 0.9 */
    maxMemoryAfter: z.number().gt(0).max(1).optional(),
    /** @default 120 */
    timeoutSeconds: z.int().min(5).max(3600).default(120),
  })
  .strict();
export type RemoveNodeInput = z.input<typeof removeNodeInput>;

const backupId = z.string().regex(BACKUP_ID_PATTERN, 'expected a backup id as backupCluster returned it, e.g. "20261127T030000Z-1a2b3c"');
const storeName = z.string().min(1, 'the name of a store in the worker\'s inventory, e.g. "s3"');

const retention = z
  .object({
    /** Keep the newest `count` complete backups. */
    count: z.int().min(1).optional(),
    /** Keep complete backups younger than `days`. */
    days: z.number().positive().optional(),
  })
  .strict()
  .refine((r) => r.count !== undefined || r.days !== undefined, 'give count, days or both, e.g. {"count": 14}');

export const backupClusterInput = z
  .object({
    cluster: clusterName,
    /** Read each shard from an in-sync replica (master when none is) or from the master. @default "replica" */
    source: z.enum(['replica', 'master'], { error: 'expected "replica" or "master"' }).default('replica'),
    /** Prune older backups afterwards; the newest complete backup always stays. */
    retain: retention.optional(),
    /** Default: the cluster's backupStore in the inventory. */
    store: storeName.optional(),
    /** @default "none" (tar); "gzip" is smaller and slower, see bench/backup. */
    compression: z.enum(['none', 'gzip'], { error: 'expected "none" or "gzip"' }).default('none'),
    /** Default: from the start time, e.g. "20261127T030000Z-1a2b3c". */
    backupId: backupId.optional(),
    /** The longest an AOF rewrite may take. @default 600 */
    timeoutSeconds: z.int().min(5).max(86_400).default(600),
    /**
     * When another operation holds the cluster: wait up to waitSeconds for it, then fail
     * (ClusterBusy) or skip (a completed run whose report says "skipped: cluster busy").
     * @default { waitSeconds: 0, then: "fail" }
     */
    ifBusy: z
      .object({
        waitSeconds: z.int().min(0).max(86_400).default(0),
        then: z.enum(['fail', 'skip'], { error: 'expected "fail" or "skip"' }).default('fail'),
      })
      .strict()
      .default({ waitSeconds: 0, then: 'fail' }),
  })
  .strict();
export type BackupClusterInput = z.input<typeof backupClusterInput>;

export const restoreClusterInput = z
  .object({
    /** The cluster to restore into (its nodes in the inventory). */
    cluster: clusterName,
    backupId,
    /** The cluster the backup was taken of. @default the same cluster */
    from: clusterName.optional(),
    /** Default: the backupStore of `from` in the inventory. */
    store: storeName.optional(),
    /** Skip the approval gate: the restore stops every node and replaces its data. @default false */
    approve: z.boolean().default(false),
    /** How long the approval gate waits for the approve update before it declines. @default 86400 (24 h) */
    approvalTimeoutSeconds: z.int().min(1).max(30 * 86_400).default(DEFAULT_APPROVAL_TIMEOUT_SECONDS),
    /** Check the backup and return the plan without touching any node. @default false */
    dryRun: z.boolean().default(false),
    /** @default 300 */
    timeoutSeconds: z.int().min(5).max(86_400).default(300),
  })
  .strict();
export type RestoreClusterInput = z.input<typeof restoreClusterInput>;

export const verifyBackupInput = z
  .object({
    cluster: clusterName,
    /** Default: the newest complete backup. */
    backupId: backupId.optional(),
    store: storeName.optional(),
    /** First port of the scratch cluster on 127.0.0.1 (its bus ports are 10000 higher). @default 40001 */
    basePort: z.int().min(1024).max(55_000).default(40_001),
    /** @default 300 */
    timeoutSeconds: z.int().min(5).max(86_400).default(300),
  })
  .strict();
export type VerifyBackupInput = z.input<typeof verifyBackupInput>;

const versionName = z
  .string({ error: (iss) => (iss.input === undefined ? 'required: the version to run, an image tag (docker runtime) or a name in the process runtime\'s versions map, e.g. "8.0.2"' : 'expected a string, e.g. "8.0.2"') })
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/, 'expected an image tag or a version name, e.g. "8.0.2", not a whole image reference (the image repository is the runtime\'s, in the inventory)');

export const upgradeRedisInput = z
  .object({
    cluster: clusterName,
    version: versionName,
    /** Shards upgraded at the same time; health is checked between each group. @default 1 */
    shardsInParallel: z.int().min(1).max(64).default(1),
    /** Give each shard's old master its role back once it runs the new version. @default false */
    failback: z.boolean().default(false),
    /** Accept downtime: a shard without a replica is upgraded by restarting its master in place. @default false */
    approve: z.boolean().default(false),
    /** The longest one wait may take (a replica's sync, a failover). @default 300 */
    timeoutSeconds: z.int().min(5).max(86_400).default(300),
    /** How long the cluster may take after a group of shards to be as healthy as before, before the upgrade pauses for a decision. @default 30 */
    healthSettleSeconds: z.int().min(1).max(3600).default(30),
    /** Return the plan without touching any node. @default false */
    dryRun: z.boolean().default(false),
  })
  .strict();
export type UpgradeRedisInput = z.input<typeof upgradeRedisInput>;

export const upgradeEnvoyInput = z
  .object({
    /** The proxy's name under "proxies" in the worker's inventory. */
    proxy: z
      .string({ error: (iss) => (iss.input === undefined ? 'required: the inventory name of the proxy, e.g. "envoy"' : 'expected a string, the inventory name of the proxy') })
      .min(1, 'must not be empty: the inventory name of the proxy, e.g. "envoy"'),
    image: z
      .string({ error: (iss) => (iss.input === undefined ? 'required: the image to run, e.g. "redisforge/envoy:v1.32.1"' : 'expected a string, an image reference') })
      .regex(/^[a-z0-9][a-z0-9._-]*(:\d+)?(\/[a-z0-9][a-z0-9._-]*)*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(@sha256:[a-f0-9]{64})?$/, 'expected an image reference, e.g. "redisforge/envoy:v1.32.1"'),
    /** How long the new container may take to be ready before it is rolled back. @default 60 */
    timeoutSeconds: z.int().min(5).max(3600).default(60),
    /** Check the proxy and the image, and return what would be done. @default false */
    dryRun: z.boolean().default(false),
  })
  .strict();
export type UpgradeEnvoyInput = z.input<typeof upgradeEnvoyInput>;

export const repairClusterInput = z
  .object({
    cluster: clusterName,
    /** Start members that are down through the runtime (when their data is still there) and wait for them to rejoin. @default true */
    restartFailedNodes: z.boolean().default(true),
    /** Give slots no live master serves to live masters, after an approval: their keys may be gone. @default false */
    assignUncovered: z.boolean({ error: 'expected true or false: true gives slots nobody serves to live masters (after an approval)' }).default(false),
    /** Pre-approve assigning uncovered slots (otherwise the `approve` update is awaited). @default false */
    approve: z.boolean().default(false),
    /** How long the approval gate waits for the approve update before it declines. @default 86400 (24 h) */
    approvalTimeoutSeconds: z.int().min(1).max(30 * 86_400).default(DEFAULT_APPROVAL_TIMEOUT_SECONDS),
    /** Return the plan without touching anything. @default false */
    dryRun: z.boolean().default(false),
    /** The longest one wait may take (nodes rejoining, every slot served). @default 120 */
    timeoutSeconds: z.int().min(5, 'at least 5 seconds').max(3600, 'at most 3600 seconds').default(120),
  })
  .strict();
export type RepairClusterInput = z.input<typeof repairClusterInput>;

export const routingCheckInput = z
  .object({
    cluster: clusterName,
    /** Keys written and read in every slot range. @default 3 */
    keysPerRange: z.int({ error: 'expected a whole number of keys per slot range, e.g. 3' }).min(1, 'at least 1 key per slot range').max(100, 'at most 100 keys per slot range').default(3),
    /** Refused: the endpoint checked is always the inventory's, so no input can send credentials elsewhere. */
    endpoint: notAnInput('the endpoint comes from clusters.<cluster>.clientEndpoint in the worker\'s inventory; set it there'),
    /** The node for the direct check, one of the cluster's nodes in the inventory; default the master owning slot 0. */
    node: address.optional(),
  })
  .strict();
export type RoutingCheckInput = z.input<typeof routingCheckInput>;
