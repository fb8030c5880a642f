/**
 * Who may log in to a node and how replicas log in to their master: the redis.conf directives a
 * runtime writes, and the ACL rules configureAcl sets on running nodes (one source for both).
 */
import type { AclUserSecret, NodeSecrets } from '../credentials';

export function quoteConf(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The operator user (the worker) may run only what the workflows send, found by running every
 * workflow on the ACL cluster (test/integration/acl.test.ts):
 * - cluster: every CLUSTER subcommand (INFO, NODES, MEET, ADDSLOTSRANGE, REPLICATE, SETSLOT,
 *   GETKEYSINSLOT, COUNTKEYSINSLOT, FAILOVER, FORGET, RESET for removeNode and repairs);
 * - info, ping, dbsize, memory|usage (large-key check), wait (canaries reach a replica);
 * - config (auto-aof-rewrite during backups, masteruser/masterauth, CONFIG REWRITE);
 * - migrate, asking, exists (slot moves and closing open slots), bgrewriteaof (backups);
 * - get, set, del on any key (~*): the failover canaries and routing probes;
 * - flushall: removeNode empties a node before CLUSTER RESET;
 * - acl: configureAcl and rotateCredentials set the users' passwords;
 * - latency|latest, slowlog|get, and readonly, scan, type on replicas: clusterHealth's diagnosis.
 * No pub/sub channels, no scripting, no SHUTDOWN, no DEBUG, no MODULE.
 */
export const OPERATOR_RULES = [
  'resetkeys', '~*', 'resetchannels', '-@all',
  '+cluster', '+info', '+ping', '+dbsize', '+memory|usage', '+wait', '+config',
  '+migrate', '+asking', '+exists', '+bgrewriteaof', '+get', '+set', '+del', '+flushall', '+acl',
  '+latency|latest', '+slowlog|get', '+readonly', '+scan', '+type',
] as const;

/** What a replica sends its master (Redis's own replication user example): nothing else, no keys. */
export const REPLICATION_RULES = ['resetkeys', 'resetchannels', '-@all', '+psync', '+replconf', '+ping'] as const;

/** The default user: off, no password, no commands (the first thing `user default` does in a config is reset). */
export const DEFAULT_USER_OFF = ['off', 'resetpass', 'resetkeys', 'resetchannels', '-@all'] as const;

/** The application rules from the inventory, after clearing what a previous run may have left. */
export function applicationRules(rules: string): string[] {
  return ['resetkeys', 'resetchannels', '-@all', ...rules.split(/\s+/).filter(Boolean)];
}

export type AclRole = 'operator' | 'replication' | 'application';

/** ACL rules of a role (without passwords), as ACL SETUSER arguments. */
export function roleRules(role: AclRole, secrets: NonNullable<NodeSecrets['acl']>): string[] {
  if (role === 'operator') return [...OPERATOR_RULES];
  if (role === 'replication') return [...REPLICATION_RULES];
  return applicationRules(secrets.applicationRules);
}

function userLine(user: AclUserSecret, rules: readonly string[]): [string, string] {
  const args = [user.username, 'on', 'resetpass', ...user.passwords.map((p) => `>${p}`), ...rules];
  // Every argument quoted: a password may hold spaces or quotes; redis.conf splits like a shell.
  return ['user', args.map(quoteConf).join(' ')];
}

export function authDirectives(secrets: NodeSecrets): [string, string][] {
  const lines: [string, string][] = [];
  if (secrets.acl) {
    const acl = secrets.acl;
    lines.push(['user', ['default', ...DEFAULT_USER_OFF].map(quoteConf).join(' ')]);
    for (const role of ['operator', 'replication', 'application'] as const) lines.push(userLine(acl[role], roleRules(role, acl)));
    const replication = acl.replication;
    if (replication.passwords[0]) lines.push(['masteruser', quoteConf(replication.username)], ['masterauth', quoteConf(replication.passwords[0])]);
    return lines;
  }
  const { username, password } = secrets;
  if (password) {
    lines.push(['requirepass', quoteConf(password)], ['masterauth', quoteConf(password)]);
    // The worker logs in as this user, and replicas name it as masteruser: it must exist.
    if (username && username !== 'default') {
      lines.push(userLine({ username, passwords: [password] }, ['~*', '&*', '+@all']), ['masteruser', quoteConf(username)]);
    }
  }
  return lines;
}
