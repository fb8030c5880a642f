/**
 * Diagnosis: the questions on-call asks once the cluster is up. How full is each node's memory,
 * is it fragmented, are keys being evicted, do replicas keep up, are clients blocked, what was
 * slow, is one shard carrying more than its share, which keys are the largest. Parsing of the
 * replies and every finding, as pure functions of what the nodes said; the activities in
 * activities/redis/diagnosis.ts gather the replies.
 */
import { flattenInfo, parseInfo } from './info';
import type { Severity, TopologyShard } from './health';

export interface ReplicaLink {
  /** "host:port" as the master sees it (INFO replication's slaveN line). */
  address: string;
  state: string;
  offset: number;
  /** Seconds since the replica's last acknowledgement. */
  lagSeconds: number;
}

export interface LatencyEvent { event: string; at: number; latestMs: number; maxMs: number }
export interface SlowCommand { at: number; micros: number; command: string }

/** What one node said about itself: INFO, LATENCY LATEST, SLOWLOG GET and two settings. */
export interface NodeDiagnostics {
  address: string;
  /** Why the node could not be asked; nothing else is set then. */
  error?: string;
  role?: 'master' | 'replica';
  memory?: { used: number; dataset: number; rss: number; peak: number; maxmemory: number; policy: string; fragmentationRatio: number };
  keys?: number;
  expires?: number;
  stats?: { evictedKeys: number; expiredKeys: number; opsPerSecond: number; rejectedConnections: number };
  clients?: { connected: number; blocked: number; maxclients?: number };
  replication?: {
    offset: number;
    /** A replica's master as it names it ("host:port"), whether the link is up and how long it has been quiet. */
    master?: string;
    linkUp?: boolean;
    lastIoSecondsAgo?: number;
    syncInProgress?: boolean;
    /** A master's replicas. */
    replicas: ReplicaLink[];
  };
  latency?: LatencyEvent[];
  /** latency-monitor-threshold in ms; 0 means the latency monitor is off (LATENCY LATEST stays empty). */
  latencyThresholdMs?: number;
  /** The slowest entries of SLOWLOG GET, slowest first. */
  slowlog?: SlowCommand[];
}

/** The largest keys of one shard, found by SCAN and MEMORY USAGE on one of its replicas. */
export interface BigKeyScan {
  slots: string;
  master: string;
  /** The replica scanned; absent when the shard had none in sync (masters are not scanned). */
  replica?: string;
  skipped?: string;
  scanned: number;
  /** DBSIZE of the scanned replica. */
  keysInShard: number;
  /** The SCAN cursor came back to 0 within the time budget. */
  complete: boolean;
  ms: number;
  largest: { key: string; bytes: number; type: string }[];
}

export type DiagnosisCode =
  | 'MEMORY_NEAR_LIMIT'
  | 'MEMORY_NO_LIMIT'
  | 'MEMORY_FRAGMENTED'
  | 'KEYS_EVICTED'
  | 'REPLICA_LAGGING'
  | 'REPLICA_SYNCING'
  | 'CLIENTS_BLOCKED'
  | 'CLIENTS_NEAR_LIMIT'
  | 'CONNECTIONS_REJECTED'
  | 'LATENCY_SPIKES'
  | 'SLOW_COMMANDS'
  | 'SHARD_KEY_SKEW'
  | 'SHARD_MEMORY_SKEW'
  | 'BIG_KEY'
  | 'BIG_KEY_SCAN_PARTIAL'
  | 'NODE_NOT_DIAGNOSED';

/** Every code a diagnosis can find (metrics set each one, 0 when absent). */
export const DIAGNOSIS_CODES: readonly DiagnosisCode[] = [
  'MEMORY_NEAR_LIMIT', 'MEMORY_NO_LIMIT', 'MEMORY_FRAGMENTED', 'KEYS_EVICTED', 'REPLICA_LAGGING', 'REPLICA_SYNCING',
  'CLIENTS_BLOCKED', 'CLIENTS_NEAR_LIMIT', 'CONNECTIONS_REJECTED', 'LATENCY_SPIKES', 'SLOW_COMMANDS',
  'SHARD_KEY_SKEW', 'SHARD_MEMORY_SKEW', 'BIG_KEY', 'BIG_KEY_SCAN_PARTIAL', 'NODE_NOT_DIAGNOSED',
];

export interface DiagnosisFinding {
  code: DiagnosisCode;
  severity: Severity;
  node?: string;
  slots?: string;
  message: string;
  advice: string;
}

/** Where a finding starts; each has a default and the workflow's input can move the ones operators tune. */
export interface DiagnosisThresholds {
  /** Used memory over maxmemory: warning from here, critical from memoryCritical. */
  memoryWarning: number;
  memoryCritical: number;
  /** mem_fragmentation_ratio over this, when RSS exceeds used memory by fragmentationMinBytes. */
  fragmentationRatio: number;
  fragmentationMinBytes: number;
  /** A replica this many bytes behind its master's offset, or this many seconds without an ack. */
  replicaLagBytes: number;
  replicaLagSeconds: number;
  /** LATENCY LATEST max at or over this. */
  latencyMs: number;
  /** SLOWLOG entries at or over this. */
  slowCommandMs: number;
  /** A shard over this times the mean (keys or dataset bytes), and over it by the minimum. */
  skewRatio: number;
  skewMinKeys: number;
  skewMinBytes: number;
  /** A key whose MEMORY USAGE is at or over this. */
  bigKeyBytes: number;
}

export const DEFAULT_THRESHOLDS: DiagnosisThresholds = {
  memoryWarning: 0.8,
  memoryCritical: 0.9,
  fragmentationRatio: 1.5,
  fragmentationMinBytes: 64 * 1024 ** 2,
  replicaLagBytes: 1024 ** 2,
  replicaLagSeconds: 10,
  latencyMs: 100,
  slowCommandMs: 10,
  skewRatio: 1.5,
  skewMinKeys: 1000,
  skewMinBytes: 8 * 1024 ** 2,
  bigKeyBytes: 1024 ** 2,
};

export interface ShardLoad {
  slots: string;
  master: string;
  keys: number;
  /** used_memory_dataset of the master. */
  datasetBytes: number;
  /** keys / the mean over shards (1 = its share). */
  keysVsMean: number;
  bytesVsMean: number;
  replicas: { address: string; lagBytes?: number; lagSeconds?: number; state?: string }[];
}

export interface Diagnosis {
  nodes: NodeDiagnostics[];
  shards: ShardLoad[];
  bigKeys?: BigKeyScan[];
  /** The highest used/maxmemory over nodes with a limit; absent when none has one. */
  memoryUsedRatioMax?: number;
  replicationLagBytesMax: number;
  evictedKeys: number;
  findings: DiagnosisFinding[];
}

/** Commands whose arguments may carry a secret or a payload: only their name (and subcommand) is kept. */
const ARGUMENTS_WITHHELD = new Set(['AUTH', 'HELLO', 'ACL', 'CONFIG', 'MIGRATE', 'EVAL', 'EVALSHA', 'FCALL', 'FUNCTION', 'SCRIPT', 'MODULE', 'CLIENT']);
const WITH_SUBCOMMAND = new Set(['ACL', 'CONFIG', 'FUNCTION', 'SCRIPT', 'MODULE', 'CLIENT', 'CLUSTER', 'MEMORY', 'OBJECT', 'XINFO', 'COMMAND', 'LATENCY', 'SLOWLOG']);

/** A slow command as a report shows it: its name, its first argument (a key, cut to 40 characters) and how many more; never a value. */
export function summarizeCommand(args: readonly string[]): string {
  const name = (args[0] ?? '?').toUpperCase();
  const sub = WITH_SUBCOMMAND.has(name) && args[1] ? ` ${args[1].toUpperCase()}` : '';
  const rest = args.slice(sub ? 2 : 1);
  if (ARGUMENTS_WITHHELD.has(name)) return `${name}${sub}${rest.length ? ` (${rest.length} args withheld)` : ''}`;
  const first = rest[0] === undefined ? '' : ` ${rest[0].length > 40 ? `${rest[0].slice(0, 40)}...` : rest[0]}`;
  return `${name}${sub}${first}${rest.length > 1 ? ` (+${rest.length - 1} args)` : ''}`;
}

const num = (v: string | undefined) => (v === undefined || v === '' ? 0 : Number(v));

/** INFO's memory fields and db0's key counts, from the flattened fields of an INFO reply. */
export function memoryOf(f: Record<string, string>): { memory: NonNullable<NodeDiagnostics['memory']>; keys: number; expires: number } {
  const db0 = /keys=(\d+),expires=(\d+)/.exec(f.db0 ?? '');
  return {
    memory: {
      used: num(f.used_memory),
      dataset: num(f.used_memory_dataset),
      rss: num(f.used_memory_rss),
      peak: num(f.used_memory_peak),
      maxmemory: num(f.maxmemory),
      policy: f.maxmemory_policy ?? 'noeviction',
      fragmentationRatio: num(f.mem_fragmentation_ratio),
    },
    keys: db0 ? Number(db0[1]) : 0,
    expires: db0 ? Number(db0[2]) : 0,
  };
}

/** What a node's replies say, parsed: INFO (all default sections), LATENCY LATEST, SLOWLOG GET, CONFIG GET. */
export function parseNodeDiagnostics(address: string, replies: { info: string; latency: unknown; slowlog: unknown; config: Record<string, string> }, slowest = 5): NodeDiagnostics {
  const sections = parseInfo(replies.info);
  const f = flattenInfo(sections);
  const role = f.role === 'slave' ? 'replica' : 'master';
  const replicas: ReplicaLink[] = Object.entries(sections.replication ?? {})
    .filter(([k]) => /^slave\d+$/.test(k))
    .map(([, v]) => {
      const fields = Object.fromEntries(v.split(',').map((kv) => kv.split('=') as [string, string]));
      return { address: `${fields.ip}:${fields.port}`, state: fields.state ?? '?', offset: num(fields.offset), lagSeconds: num(fields.lag) };
    });
  const latency = (Array.isArray(replies.latency) ? replies.latency : []).map((e) => {
    const [event, at, latest, max] = e as [string, number, number, number];
    return { event: String(event), at: Number(at), latestMs: Number(latest), maxMs: Number(max) };
  });
  const slowlog = (Array.isArray(replies.slowlog) ? replies.slowlog : [])
    .map((e) => {
      const [, at, micros, args] = e as [number, number, number, unknown[]];
      return { at: Number(at), micros: Number(micros), command: summarizeCommand((Array.isArray(args) ? args : []).map(String)) };
    })
    .sort((a, b) => b.micros - a.micros)
    .slice(0, slowest);
  const maxclients = replies.config.maxclients;
  return {
    address,
    role,
    ...memoryOf(f),
    stats: { evictedKeys: num(f.evicted_keys), expiredKeys: num(f.expired_keys), opsPerSecond: num(f.instantaneous_ops_per_sec), rejectedConnections: num(f.rejected_connections) },
    clients: { connected: num(f.connected_clients), blocked: num(f.blocked_clients), ...(maxclients ? { maxclients: Number(maxclients) } : {}) },
    replication: {
      offset: role === 'replica' ? num(f.slave_repl_offset) : num(f.master_repl_offset),
      ...(role === 'replica'
        ? { master: `${f.master_host}:${f.master_port}`, linkUp: f.master_link_status === 'up', lastIoSecondsAgo: num(f.master_last_io_seconds_ago), syncInProgress: f.master_sync_in_progress === '1' }
        : {}),
      replicas,
    },
    latency,
    latencyThresholdMs: num(replies.config['latency-monitor-threshold']),
    slowlog,
  };
}

export const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(bytes < 10 * 1024 ** 2 ? 1 : 0)} MiB`;
/** Bytes in the unit that reads best: 176 B, 12.5 KiB, 3.5 MiB. */
export const size = (bytes: number) => (bytes < 1024 ? `${bytes} B` : bytes < 1024 ** 2 ? `${(bytes / 1024).toFixed(1)} KiB` : mib(bytes));
const pct = (ratio: number) => `${(ratio * 100).toFixed(0)}%`;

/** The runbook section an operator follows for each code: what it means and what to do. */
const ADVICE: Record<DiagnosisCode, string> = {
  MEMORY_NEAR_LIMIT: 'Add a master and rebalance onto it (redisforge add --role master, then rebalance --weigh-by memory), raise maxmemory if the host has room, or expire what need not stay. At the limit, noeviction refuses writes and the other policies drop keys.',
  MEMORY_NO_LIMIT: 'Set maxmemory (and a maxmemory-policy) below the host\'s memory: without it the kernel\'s OOM killer ends the node, not Redis.',
  MEMORY_FRAGMENTED: 'Turn on activedefrag (CONFIG SET activedefrag yes), or restart the node: a replica directly, a master after a failover drill onto its replica.',
  KEYS_EVICTED: 'The node is at maxmemory and drops keys under its policy: add memory or masters (rebalance --weigh-by memory), or find what grew (--big-keys).',
  REPLICA_LAGGING: 'The replica is not keeping up: check its host (CPU, disk, network) and whether it is paused or swapping; until it catches up a failover onto it loses the writes it lacks.',
  REPLICA_SYNCING: 'A full sync is running: wait for it; if it repeats, raise repl-backlog-size and client-output-buffer-limit replica so a reconnect can resume partially.',
  CLIENTS_BLOCKED: 'Clients wait in blocking commands (BLPOP, XREAD, WAIT): expected for queue consumers; a number that only grows means producers stopped.',
  CLIENTS_NEAR_LIMIT: 'Connections approach maxclients: check for connection leaks or pool sizes in the applications, or raise maxclients (and the file-descriptor limit).',
  CONNECTIONS_REJECTED: 'Connections were refused at maxclients since the node started: raise maxclients or find the client that opens too many.',
  LATENCY_SPIKES: 'LATENCY LATEST recorded events over the bound: LATENCY DOCTOR on the node names the cause (fork, AOF fsync, expiry cycles, slow commands).',
  SLOW_COMMANDS: 'Commands took long (SLOWLOG): O(N) commands on big keys (KEYS, SMEMBERS, HGETALL, DEL of a big key) block the node; use SCAN-style commands and UNLINK.',
  SHARD_KEY_SKEW: 'One shard holds many more keys than the others: a hot hash tag ({...}) puts related keys in one slot; rebalance moves slots, not keys of one slot, so spread the tag, or rebalance with weights (--weigh-by memory).',
  SHARD_MEMORY_SKEW: 'One shard uses much more memory than the others: rebalance --weigh-by memory moves slots off it; a big key (--big-keys) cannot be split by moving slots.',
  BIG_KEY: 'A big key blocks its node while it is migrated (MIGRATE), deleted (use UNLINK) or read whole, and slows full syncs: split it into smaller keys.',
  BIG_KEY_SCAN_PARTIAL: 'The scan ran out of its time budget: give it more (--scan-seconds) or a higher rate (--scan-rate) to see every key.',
  NODE_NOT_DIAGNOSED: 'The node did not answer the diagnosis; the health findings say why.',
};

function finding(code: DiagnosisCode, severity: Severity, message: string, where: { node?: string; slots?: string } = {}): DiagnosisFinding {
  return { code, severity, ...where, message, advice: ADVICE[code] };
}

/**
 * The diagnosis of a cluster from every node's replies, the health report's shards and, when a
 * scan ran, the largest keys per shard. Node findings come first (in node order), then shard
 * findings (in slot order), then big keys.
 */
export function diagnoseCluster(nodes: readonly NodeDiagnostics[], shards: readonly TopologyShard[], bigKeys?: readonly BigKeyScan[], limits: Partial<DiagnosisThresholds> = {}): Diagnosis {
  const t = { ...DEFAULT_THRESHOLDS, ...limits };
  const byAddress = new Map(nodes.map((n) => [n.address, n] as const));
  const findings: DiagnosisFinding[] = [];
  const unlimited: string[] = [];

  for (const n of nodes) {
    if (n.error || !n.memory || !n.stats || !n.clients || !n.replication) {
      findings.push(finding('NODE_NOT_DIAGNOSED', 'info', `no diagnosis: ${n.error ?? 'incomplete answer'}`, { node: n.address }));
      continue;
    }
    const m = n.memory;
    if (m.maxmemory > 0) {
      const ratio = m.used / m.maxmemory;
      if (ratio >= t.memoryWarning) {
        findings.push(finding('MEMORY_NEAR_LIMIT', ratio >= t.memoryCritical ? 'critical' : 'warning', `${mib(m.used)} used of maxmemory ${mib(m.maxmemory)} (${pct(ratio)}, policy ${m.policy})`, { node: n.address }));
      }
    } else {
      unlimited.push(n.address);
    }
    if (m.fragmentationRatio > t.fragmentationRatio && m.rss - m.used >= t.fragmentationMinBytes) {
      findings.push(finding('MEMORY_FRAGMENTED', 'warning', `fragmentation ratio ${m.fragmentationRatio.toFixed(2)}: RSS ${mib(m.rss)} for ${mib(m.used)} used`, { node: n.address }));
    }
    if (n.stats.evictedKeys > 0) {
      findings.push(finding('KEYS_EVICTED', 'warning', `${n.stats.evictedKeys} keys evicted since the node started (policy ${m.policy})`, { node: n.address }));
    }
    if (n.role === 'master') {
      for (const r of n.replication.replicas) {
        const behind = n.replication.offset - r.offset;
        if (r.state !== 'online') {
          findings.push(finding('REPLICA_SYNCING', 'warning', `replica ${r.address} is in state ${r.state}`, { node: n.address }));
        } else if (behind >= t.replicaLagBytes || r.lagSeconds >= t.replicaLagSeconds) {
          findings.push(finding('REPLICA_LAGGING', 'warning', `replica ${r.address} is ${mib(Math.max(0, behind))} (${Math.max(0, behind)} bytes) behind, last ack ${r.lagSeconds} s ago`, { node: n.address }));
        }
      }
    } else if (n.replication.linkUp && (n.replication.lastIoSecondsAgo ?? 0) >= t.replicaLagSeconds) {
      findings.push(finding('REPLICA_LAGGING', 'warning', `nothing from its master ${n.replication.master} for ${n.replication.lastIoSecondsAgo} s`, { node: n.address }));
    }
    if (n.clients.blocked > 0) findings.push(finding('CLIENTS_BLOCKED', 'info', `${n.clients.blocked} of ${n.clients.connected} clients blocked`, { node: n.address }));
    if (n.clients.maxclients && n.clients.connected >= 0.8 * n.clients.maxclients) {
      findings.push(finding('CLIENTS_NEAR_LIMIT', 'warning', `${n.clients.connected} clients connected of maxclients ${n.clients.maxclients}`, { node: n.address }));
    }
    if (n.stats.rejectedConnections > 0) findings.push(finding('CONNECTIONS_REJECTED', 'warning', `${n.stats.rejectedConnections} connections rejected since the node started`, { node: n.address }));
    const spikes = (n.latency ?? []).filter((e) => e.maxMs >= t.latencyMs);
    if (spikes.length) {
      findings.push(finding('LATENCY_SPIKES', 'warning', spikes.map((e) => `${e.event} max ${e.maxMs} ms (latest ${e.latestMs} ms)`).join(', '), { node: n.address }));
    }
    const slow = (n.slowlog ?? []).filter((s) => s.micros >= t.slowCommandMs * 1000);
    if (slow.length) {
      findings.push(finding('SLOW_COMMANDS', 'info', `slowest: ${slow.slice(0, 3).map((s) => `${s.command} ${(s.micros / 1000).toFixed(1)} ms`).join('; ')}`, { node: n.address }));
    }
  }
  if (unlimited.length) {
    findings.push(finding('MEMORY_NO_LIMIT', 'info', `${unlimited.length} of ${nodes.length} nodes have no maxmemory: ${unlimited.slice(0, 6).join(', ')}${unlimited.length > 6 ? ', ...' : ''}`));
  }

  const loads = shardLoads(shards, byAddress);
  const meanKeys = loads.reduce((s, l) => s + l.keys, 0) / (loads.length || 1);
  const meanBytes = loads.reduce((s, l) => s + l.datasetBytes, 0) / (loads.length || 1);
  for (const l of loads) {
    l.keysVsMean = meanKeys > 0 ? round2(l.keys / meanKeys) : 0;
    l.bytesVsMean = meanBytes > 0 ? round2(l.datasetBytes / meanBytes) : 0;
    if (loads.length > 1 && l.keys > t.skewRatio * meanKeys && l.keys - meanKeys >= t.skewMinKeys) {
      findings.push(finding('SHARD_KEY_SKEW', 'warning', `${l.keys} keys, ${l.keysVsMean}x the mean of ${Math.round(meanKeys)} per shard`, { node: l.master, slots: l.slots }));
    }
    if (loads.length > 1 && l.datasetBytes > t.skewRatio * meanBytes && l.datasetBytes - meanBytes >= t.skewMinBytes) {
      findings.push(finding('SHARD_MEMORY_SKEW', 'warning', `${mib(l.datasetBytes)} of data, ${l.bytesVsMean}x the mean of ${mib(meanBytes)} per shard`, { node: l.master, slots: l.slots }));
    }
  }

  for (const scan of bigKeys ?? []) {
    for (const k of scan.largest.filter((k) => k.bytes >= t.bigKeyBytes)) {
      findings.push(finding('BIG_KEY', 'warning', `${k.type} "${k.key}" uses ${mib(k.bytes)} (MEMORY USAGE on replica ${scan.replica})`, { node: scan.master, slots: scan.slots }));
    }
    if (scan.skipped) {
      findings.push(finding('BIG_KEY_SCAN_PARTIAL', 'info', `not scanned: ${scan.skipped}`, { node: scan.master, slots: scan.slots }));
    } else if (!scan.complete) {
      findings.push(finding('BIG_KEY_SCAN_PARTIAL', 'info', `${scan.scanned} of ${scan.keysInShard} keys scanned on ${scan.replica} in ${(scan.ms / 1000).toFixed(1)} s`, { node: scan.master, slots: scan.slots }));
    }
  }

  const limitsSet = nodes.filter((n) => n.memory && n.memory.maxmemory > 0);
  return {
    nodes: [...nodes],
    shards: loads,
    ...(bigKeys ? { bigKeys: [...bigKeys] } : {}),
    ...(limitsSet.length ? { memoryUsedRatioMax: round2(Math.max(...limitsSet.map((n) => n.memory!.used / n.memory!.maxmemory)), 4) } : {}),
    replicationLagBytesMax: Math.max(0, ...loads.flatMap((l) => l.replicas.map((r) => r.lagBytes ?? 0))),
    evictedKeys: nodes.reduce((s, n) => s + (n.stats?.evictedKeys ?? 0), 0),
    findings,
  };
}

const round2 = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Each shard's master load and how far each of its replicas is behind (from the master's side). */
function shardLoads(shards: readonly TopologyShard[], byAddress: ReadonlyMap<string, NodeDiagnostics>): ShardLoad[] {
  return shards.map((s) => {
    const m = byAddress.get(s.master.address);
    const links = new Map((m?.replication?.replicas ?? []).map((r) => [r.address, r] as const));
    return {
      slots: s.slots,
      master: s.master.address,
      keys: m?.keys ?? 0,
      datasetBytes: m?.memory?.dataset ?? 0,
      keysVsMean: 0,
      bytesVsMean: 0,
      replicas: s.replicas.map((r) => {
        const link = links.get(r.address);
        return link && m?.replication
          ? { address: r.address, lagBytes: Math.max(0, m.replication.offset - link.offset), lagSeconds: link.lagSeconds, state: link.state }
          : { address: r.address };
      }),
    };
  });
}
