/**
 * The cluster secrets the worker holds: read from its environment (or the files the inventory
 * names), never from an input. Used by the one Redis connection helper and by the runtimes that
 * write them into a node's redis.conf.
 */
import { readFileSync } from 'node:fs';
import type { ClusterConfig } from './config';

/** What the worker logs in with. */
export interface Credentials {
  username?: string;
  password?: string;
}

/** An ACL user as a node is configured with it: during a rotation both passwords are valid. */
export interface AclUserSecret {
  username: string;
  /** The current password first, then the next one while a rotation rolls out. */
  passwords: string[];
}

/** Everything a runtime writes into a node's redis.conf about who may log in. */
export interface NodeSecrets {
  /** Clusters without `acl`: requirepass and masterauth. */
  password?: string;
  username?: string;
  acl?: {
    operator: AclUserSecret;
    replication: AclUserSecret;
    application: AclUserSecret;
    applicationRules: string;
  };
}

function secret(env: NodeJS.ProcessEnv, name?: string, file?: string): string | undefined {
  const fromEnv = name ? env[name] || undefined : undefined;
  if (fromEnv !== undefined || !file) return fromEnv;
  return readFileSync(file, 'utf8').trim() || undefined;
}

type AclUserConfig = NonNullable<ClusterConfig['acl']>['operator'];

function aclUser(user: AclUserConfig, env: NodeJS.ProcessEnv): AclUserSecret {
  const current = secret(env, user.passwordEnv, user.passwordFile);
  const next = secret(env, user.nextPasswordEnv, user.nextPasswordFile);
  return { username: user.username, passwords: [current, next].filter((p): p is string => Boolean(p)) };
}

export function resolveCredentials(cluster: ClusterConfig, env: NodeJS.ProcessEnv = process.env): Credentials {
  if (cluster.acl) {
    const operator = aclUser(cluster.acl.operator, env);
    return { username: operator.username, password: operator.passwords[0] };
  }
  const { usernameEnv, passwordEnv, passwordFile } = cluster.auth;
  const password = secret(env, passwordEnv, passwordFile);
  const username = usernameEnv ? env[usernameEnv] || undefined : undefined;
  return { username, password };
}

export function resolveNodeSecrets(cluster: ClusterConfig, env: NodeJS.ProcessEnv = process.env): NodeSecrets {
  if (!cluster.acl) return resolveCredentials(cluster, env);
  const { operator, replication, application, applicationRules } = cluster.acl;
  return { acl: { operator: aclUser(operator, env), replication: aclUser(replication, env), application: aclUser(application, env), applicationRules } };
}
