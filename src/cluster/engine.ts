/**
 * Which server software a node runs, Redis or Valkey, and its own version. Valkey also reports
 * redis_version:7.2.4, the Redis release it is compatible with: that stays the version to compare
 * for compatibility (what a replica can sync from, where MIGRATE can carry keys); this is the one
 * to show and to check an upgrade against.
 */

/** The server software a node runs. */
export type Engine = 'redis' | 'valkey';

export interface EngineVersion {
  engine: Engine;
  /** The engine's own version: "8.1.1" for Valkey 8.1.1, not the redis_version:7.2.4 it also reports. */
  version: string;
}

/**
 * Which engine and version a node runs, from its flattened INFO server fields: Valkey names
 * itself in server_name and carries valkey_version; Redis has only redis_version. Undefined
 * when neither version field is there.
 */
export function engineVersionOf(info: Readonly<Record<string, string | undefined>>): EngineVersion | undefined {
  if (info.valkey_version || info.server_name?.toLowerCase() === 'valkey') {
    const version = info.valkey_version ?? info.redis_version;
    return version ? { engine: 'valkey', version } : undefined;
  }
  return info.redis_version ? { engine: 'redis', version: info.redis_version } : undefined;
}

/**
 * The newest RDB format an engine version reads, which is also the one it writes. A node given
 * data of a newer format (a restore, a full sync from its master) does not start: "Can't handle
 * RDB format version 12". Measured here: Redis 7.0.15 10, Valkey 8.1.1 11, Redis 8.0.2 12 (and
 * Redis 8.0.2 reads Valkey's 11, Valkey 8.1.1 not Redis 8's 12); the others from the engines'
 * release notes. Undefined for a version this table does not know: no check is made then.
 */
export function rdbFormatOf(v: EngineVersion): number | undefined {
  const m = /^(\d+)\.(\d+)/.exec(v.version);
  if (!m) return undefined;
  const minor = `${m[1]}.${m[2]}`;
  const table: Record<Engine, Record<string, number>> = {
    redis: { '5.0': 9, '6.0': 9, '6.2': 9, '7.0': 10, '7.2': 11, '7.4': 12, '8.0': 12 },
    valkey: { '7.2': 11, '8.0': 11, '8.1': 11 },
  };
  return table[v.engine][minor];
}

/** The RDB format a file starts with ("REDIS0012" -> 12); undefined when it is not an RDB header. */
export function rdbFormatOfHeader(head: Uint8Array): number | undefined {
  if (head.length < 9) return undefined;
  const text = String.fromCharCode(...head.subarray(0, 9));
  return /^REDIS\d{4}$/.test(text) ? Number(text.slice(5)) : undefined;
}

/**
 * Why nodes on `readers` could not load data written in RDB format `format` (from `writtenBy`),
 * or undefined when they can or a version is unknown. One line, naming the nodes.
 */
export function rdbFormatProblem(format: number | undefined, writtenBy: string, readers: readonly { address: string; engine: EngineVersion }[]): string | undefined {
  if (format === undefined) return undefined;
  const unable = readers.filter((r) => {
    const reads = rdbFormatOf(r.engine);
    return reads !== undefined && reads < format;
  });
  if (unable.length === 0) return undefined;
  const engines = [...new Set(unable.map((r) => `${describeEngine(r.engine)}, which reads RDB format ${rdbFormatOf(r.engine)!} at most`))];
  return `${writtenBy} is RDB format ${format}, and ${unable.map((r) => r.address).join(', ')} ${unable.length > 1 ? 'run' : 'runs'} ${engines.join('; ')}: ${unable.length > 1 ? 'they' : 'it'} would not start on it ("Can't handle RDB format version ${format}")`;
}

/** "Redis 7.0.15", "Valkey 8.1.1". */
export function describeEngine(v: EngineVersion): string {
  return `${v.engine === 'valkey' ? 'Valkey' : 'Redis'} ${v.version}`;
}

/** "valkey 8.1.1", "redis 7.0.15". */
export function formatEngineVersion(v: EngineVersion): string {
  return `${v.engine} ${v.version}`;
}
