/**
 * ACL users on a cluster's nodes: configureAcl and rotateCredentials. The passwords are read here,
 * from the worker's environment or the files the inventory names; workflows see only user roles,
 * addresses and booleans.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type Redis from 'ioredis';
import type { ClusterConfig } from '../../config';
import { resolveNodeSecrets, type AclUserSecret, type NodeSecrets } from '../../credentials';
import { DEFAULT_USER_OFF, roleRules, type AclRole } from '../../runtime/aclConf';
import type { NodeConnector } from './connection';

export const ACL_ROLES = ['operator', 'replication', 'application'] as const;

export interface AclNodeStatus {
  address: string;
  error?: string;
  /** Which of the inventory's users the node already has. */
  users: AclRole[];
  defaultUserOn: boolean;
  /** Replicas: whether their link to the master is up. */
  role?: 'master' | 'slave';
  linkUp?: boolean;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'InvalidInput', nonRetryable: true, message, details: [{ problems: [message] }] });
}

/** The password hashes a user has on a node (ACL GETUSER), none when the user does not exist. */
async function passwordHashes(redis: Redis, username: string): Promise<string[] | undefined> {
  const reply = (await redis.call('ACL', 'GETUSER', username)) as unknown[] | null;
  if (!reply) return undefined;
  const i = reply.indexOf('passwords');
  return i >= 0 ? (reply[i + 1] as string[]) : [];
}

/** CONFIG REWRITE where the node has a config file; a node started without one keeps its state in memory. */
async function rewriteConfig(redis: Redis): Promise<boolean> {
  try {
    await redis.call('CONFIG', 'REWRITE');
    return true;
  } catch (err) {
    if (/without a config file/i.test((err as Error).message)) return false;
    throw err;
  }
}

export function createAclActivities(connectorFor: (cluster: string) => NodeConnector, clusterConfig: (cluster: string) => ClusterConfig, env: NodeJS.ProcessEnv) {
  function aclOf(cluster: string): NonNullable<NodeSecrets['acl']> {
    const config = clusterConfig(cluster);
    if (!config.acl) throw invalid(`cluster: clusters.${cluster} has no "acl" section in the worker's inventory; add operator, replication and application users there (see README, Security)`);
    const acl = resolveNodeSecrets(config, env).acl!;
    for (const role of ACL_ROLES) {
      if (!acl[role].passwords[0]) throw invalid(`clusters.${cluster}.acl.${role}: no password in the worker's environment; set ${config.acl[role].passwordEnv ?? config.acl[role].passwordFile} for the worker`);
    }
    return acl;
  }

  /** The user's current and next password; a rotation without a next one is refused by name. */
  function rotation(cluster: string, role: AclRole): { user: AclUserSecret; current: string; next: string } {
    const user = aclOf(cluster)[role];
    const named = clusterConfig(cluster).acl![role];
    const [current, next] = user.passwords;
    if (!next) {
      throw invalid(`user: clusters.${cluster}.acl.${role} has no next password: set ${named.nextPasswordEnv ?? named.nextPasswordFile ?? '"nextPasswordEnv" (in the inventory) and that variable'} in the worker's environment, then start the worker again`);
    }
    if (next === current) throw invalid(`user: the next password of ${role} is the current one; put the new password in ${named.nextPasswordEnv ?? named.nextPasswordFile}`);
    return { user, current: current!, next };
  }

  return {
    /** rotateCredentials' preflight: the cluster has acl and the user a next password that differs. */
    async checkRotation(cluster: string, role: AclRole): Promise<{ username: string }> {
      return { username: rotation(cluster, role).user.username };
    },

    /** configureAcl's preflight: each node reachable, which users it has, whether the default user is on. */
    async aclNodeStatus(cluster: string, addresses: string[]): Promise<AclNodeStatus[]> {
      const acl = aclOf(cluster);
      return Promise.all(
        addresses.map(async (address): Promise<AclNodeStatus> => {
          try {
            return await connectorFor(cluster).withNode(address, async (redis) => {
              const names = (await redis.call('ACL', 'USERS')) as string[];
              const flags = ((await redis.call('ACL', 'GETUSER', 'default')) as unknown[])[1] as string[];
              const info = String(await redis.call('INFO', 'replication'));
              const role = /role:(master|slave)/.exec(info)?.[1] as 'master' | 'slave' | undefined;
              return {
                address,
                users: ACL_ROLES.filter((r) => names.includes(acl[r].username)),
                defaultUserOn: flags.includes('on'),
                role,
                linkUp: role === 'slave' ? /master_link_status:up/.test(info) : undefined,
              };
            });
          } catch (err) {
            return { address, error: (err as Error).message, users: [], defaultUserOn: false };
          }
        }),
      );
    },

    /**
     * The three users with their rules and every password the worker holds for them, then
     * masteruser/masterauth: additive, so a second run changes nothing and no client is dropped.
     */
    async applyAclUsers(cluster: string, address: string): Promise<{ address: string; created: AclRole[] }> {
      const acl = aclOf(cluster);
      return connectorFor(cluster).withNode(address, async (redis) => {
        const created: AclRole[] = [];
        for (const role of ACL_ROLES) {
          const user = acl[role];
          if (!(await passwordHashes(redis, user.username))) created.push(role);
          await redis.call('ACL', 'SETUSER', user.username, 'on', ...user.passwords.map((p) => `>${p}`), ...roleRules(role, acl));
        }
        await redis.call('CONFIG', 'SET', 'masteruser', acl.replication.username, 'masterauth', acl.replication.passwords[0]!);
        return { address, created };
      });
    },

    /** The operator user logs in on a fresh connection: checked before the default user goes. */
    async verifyUserLogin(cluster: string, role: AclRole, address: string, which: 'current' | 'next' = 'current'): Promise<{ address: string; role: AclRole; loggedIn: true }> {
      const user = aclOf(cluster)[role];
      const password = which === 'next' ? rotation(cluster, role).next : user.passwords[0]!;
      const whoami = await connectorFor(cluster).withLogin(address, { username: user.username, password }, (redis) => redis.call('PING'));
      if (whoami !== 'PONG') throw new Error(`${address}: ${role} logged in but PING answered ${String(whoami)}`);
      return { address, role, loggedIn: true };
    },

    /** Turns the default user off (no password, no commands) and saves the users in redis.conf, without the old requirepass. */
    async disableDefaultUser(cluster: string, address: string): Promise<{ address: string; rewritten: boolean }> {
      aclOf(cluster);
      return connectorFor(cluster).withNode(address, async (redis) => {
        // requirepass "" first: CONFIG REWRITE then drops the old password from redis.conf (it
        // makes the default user nopass, which resetpass right after takes away again).
        await redis.call('CONFIG', 'SET', 'requirepass', '');
        await redis.call('ACL', 'SETUSER', 'default', ...DEFAULT_USER_OFF);
        return { address, rewritten: await rewriteConfig(redis) };
      });
    },

    /** Step 1 of a rotation: the next password is added, both are valid. */
    async addNextPassword(cluster: string, role: AclRole, address: string): Promise<{ address: string; added: boolean }> {
      const { user, next } = rotation(cluster, role);
      return connectorFor(cluster).withNode(address, async (redis) => {
        const hashes = await passwordHashes(redis, user.username);
        if (!hashes) throw ApplicationFailure.create({ type: 'PreflightFailed', nonRetryable: true, message: `${address} has no user ${user.username}: run configureAcl first` });
        if (hashes.includes(sha256(next))) return { address, added: false };
        await redis.call('ACL', 'SETUSER', user.username, `>${next}`);
        return { address, added: true };
      });
    },

    /** Replication rotation: replicas log in to their master with the next password from now on. */
    async useNextMasterauth(cluster: string, address: string): Promise<{ address: string }> {
      const { user, next } = rotation(cluster, 'replication');
      await connectorFor(cluster).withNode(address, (redis) => redis.call('CONFIG', 'SET', 'masteruser', user.username, 'masterauth', next));
      return { address };
    },

    /** The last step of a rotation: the old password goes, and redis.conf keeps the new state. */
    async removeOldPassword(cluster: string, role: AclRole, address: string): Promise<{ address: string; removed: boolean; rewritten: boolean }> {
      const { user, current } = rotation(cluster, role);
      return connectorFor(cluster).withNode(address, async (redis) => {
        const present = (await passwordHashes(redis, user.username))?.includes(sha256(current)) ?? false;
        if (present) await redis.call('ACL', 'SETUSER', user.username, `<${current}`);
        return { address, removed: present, rewritten: await rewriteConfig(redis) };
      });
    },
  };
}
