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

/** "valkey 8.1.1", "redis 7.0.15". */
export function formatEngineVersion(v: EngineVersion): string {
  return `${v.engine} ${v.version}`;
}
