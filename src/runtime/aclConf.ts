/** The redis.conf directives that say who may log in to a node and how replicas log in to their master. */
import type { NodeSecrets } from '../credentials';

export function quoteConf(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function authDirectives(secrets: NodeSecrets): [string, string][] {
  const lines: [string, string][] = [];
  const { username, password } = secrets;
  if (password) {
    lines.push(['requirepass', quoteConf(password)], ['masterauth', quoteConf(password)]);
    if (username) lines.push(['masteruser', quoteConf(username)]);
  }
  // TODO(acl): secrets.acl -> user directives, masteruser/masterauth, default user off.
  return lines;
}
