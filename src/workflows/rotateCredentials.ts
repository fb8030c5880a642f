/**
 * Rotates one ACL user's password with no downtime: the new password is added on every node
 * (both valid), replicas switch masterauth to it (replication user), it is proven to log in
 * everywhere, and only then the old one is removed. The new password is the user's
 * nextPasswordEnv/nextPasswordFile in the worker's environment, never an input.
 */
import { pollingWithin, redisCallsWithinAMinute } from './activityOptions';
import { preflightFailed, surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { Operation } from './operation';
import { rotateCredentialsInput } from './aclInputs';

export interface RotateCredentialsReport {
  cluster: string;
  user: 'operator' | 'replication' | 'application';
  dryRun: boolean;
  /** Nodes where the new password was added (absent: it was there already). */
  added: string[];
  /** Nodes where the old password was removed. */
  removed: string[];
  /** Nodes without a config file: the change lives in memory only. */
  notRewritten: string[];
  /** What the operator must do next. */
  notes: string[];
}

const STEPS = [
  'Check every node and the new password',
  'Add the new password on every node (both valid)',
  'Point the replicas at the new password (masterauth)',
  'Check the new password logs in on every node',
  'Check the replicas are in sync',
  'Remove the old password and save (CONFIG REWRITE)',
] as const;

export async function rotateCredentials(rawInput: unknown): Promise<RotateCredentialsReport> {
  const op = new Operation('rotateCredentials', STEPS, { checks: 1 });
  return op.run(async () => {
    const input = parseInput(rotateCredentialsInput, rawInput);
    op.recordCluster(input.cluster);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);
    const report: RotateCredentialsReport = { cluster: spec.name, user: input.user, dryRun: input.dryRun, added: [], removed: [], notRewritten: [], notes: [] };

    op.step(STEPS[0]);
    // Refuses a cluster without acl, a user without a next password and an unreachable node, before any change.
    const { username } = await redisCallsWithinAMinute.checkRotation(spec.name, input.user).catch(surfaceActivityFailure);
    const status = await redisCallsWithinAMinute.aclNodeStatus(spec.name, spec.nodes).catch(surfaceActivityFailure);
    const down = status.filter((s) => s.error || !s.users.includes(input.user));
    if (down.length > 0) {
      const why = down.map((s) => `${s.address} (${s.error ?? `no ${input.user} user: run configureAcl`})`).join('; ');
      throw preflightFailed(`every node must answer and have the ${input.user} user: ${why}`, [{ nodes: down.map((s) => s.address) }]);
    }
    if (input.dryRun) {
      op.finish('succeeded', 'Dry run: nothing was changed.');
      return report;
    }
    await op.lock(spec.name);

    op.step(STEPS[1]);
    for (const address of spec.nodes) if ((await redisCallsWithinAMinute.addNextPassword(spec.name, input.user, address).catch(surfaceActivityFailure)).added) report.added.push(address);

    if (input.user === 'replication') {
      op.step(STEPS[2]);
      for (const address of spec.nodes) await redisCallsWithinAMinute.useNextMasterauth(spec.name, address).catch(surfaceActivityFailure);
    }

    op.step(STEPS[3]);
    for (const address of spec.nodes) await redisCallsWithinAMinute.verifyUserLogin(spec.name, input.user, address, 'next').catch(surfaceActivityFailure);

    op.step(STEPS[4]);
    await pollingWithin(input.timeoutSeconds)
      .awaitClusterHealthy(spec.name, spec.nodes, { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster }, input.timeoutSeconds * 1000, ['NODE_UNREACHABLE', 'AUTH_FAILED', 'REPLICA_LINK_DOWN'])
      .catch(surfaceActivityFailure);

    op.step(STEPS[5]);
    for (const address of spec.nodes) {
      const removal = await redisCallsWithinAMinute.removeOldPassword(spec.name, input.user, address).catch(surfaceActivityFailure);
      if (removal.removed) report.removed.push(address);
      if (!removal.rewritten) report.notRewritten.push(address);
    }
    report.notes.push(
      `make the new password the current one: put it in the ${input.user} user's passwordEnv/passwordFile in the worker's environment, unset nextPasswordEnv/nextPasswordFile, and restart the worker`,
      input.user === 'application'
        ? 'clients still connected with the old password stay connected; new connections need the new one'
        : input.user === 'replication'
          ? 'replicas already log in with the new password (masterauth); redis.conf keeps it where it is rewritable'
          : 'until the worker restarts it logs in with the next password (the current one is refused)',
    );
    op.finish('succeeded', `${input.user} (${username}): new password on ${spec.nodes.length} nodes, the old one removed.`);
    return report;
  });
}
