/**
 * Moves a cluster whose nodes know only requirepass to one ACL user per role: the operator user
 * the worker connects as, the replication user replicas log in with (masteruser), the
 * application user for clients and Envoy; then the default user goes. Every step is additive or
 * idempotent, so a second run (or a resumed one) changes nothing.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { AclNodeStatus } from '../activities/redis/acl';
import { pollingWithin, redisCallsWithinAMinute } from './activityOptions';
import { preflightFailed, surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { Operation } from './operation';
import { ApprovalGate } from './controls';
import type { Approval } from '../shared';
import { configureAclInput } from './aclInputs';

export interface ConfigureAclReport {
  cluster: string;
  dryRun: boolean;
  /** Nodes that already had every user and the default user off: nothing to do there. */
  alreadyConfigured: string[];
  /** Per node, the users that were (or, in a dry run, would be) created. */
  created: Record<string, string[]>;
  /** Nodes without a config file: their users live in memory only until the runtime writes one. */
  notRewritten: string[];
  notes: string[];
  /** Who approved turning the default user off (the approve update's payload, or the input). */
  approval?: Approval;
}

const STEPS = [
  'Check every node is reachable',
  'Create the users (ACL SETUSER) and set masteruser/masterauth',
  'Check the operator user logs in on every node',
  'Wait for approval',
  'Turn the default user off and save (CONFIG REWRITE)',
  'Check the replicas are in sync',
] as const;

const ROLES = ['operator', 'replication', 'application'] as const;

export async function configureAcl(rawInput: unknown): Promise<ConfigureAclReport> {
  const op = new Operation('configureAcl', STEPS, { checks: 1 });
  const gate = new ApprovalGate('configureAcl');
  return op.run(async () => {
    const input = parseInput(configureAclInput, rawInput);
    op.recordCluster(input.cluster);
    const spec = await redisCallsWithinAMinute.loadClusterSpec(input.cluster).catch(surfaceActivityFailure);

    op.step(STEPS[0]);
    const status: AclNodeStatus[] = await redisCallsWithinAMinute.aclNodeStatus(spec.name, spec.nodes).catch(surfaceActivityFailure);
    const down = status.filter((s) => s.error);
    if (down.length > 0) {
      throw preflightFailed(`every node must answer before the users change: ${down.map((s) => `${s.address} (${s.error})`).join('; ')}`, [{ unreachable: down.map((s) => s.address) }]);
    }
    const done = (s: AclNodeStatus) => s.users.length === ROLES.length && !s.defaultUserOn;
    const report: ConfigureAclReport = {
      cluster: spec.name,
      dryRun: input.dryRun,
      alreadyConfigured: status.filter(done).map((s) => s.address),
      created: Object.fromEntries(status.map((s) => [s.address, ROLES.filter((r) => !s.users.includes(r))])),
      notRewritten: [],
      notes: [],
    };
    if (input.dryRun) {
      op.finish('succeeded', 'Dry run: nothing was changed.');
      return report;
    }
    await op.lock(spec.name);

    // All users first, on every node, so no replica loses its master's user midway.
    op.step(STEPS[1]);
    for (const address of spec.nodes) report.created[address] = (await redisCallsWithinAMinute.applyAclUsers(spec.name, address).catch(surfaceActivityFailure)).created;

    // The way back in after the default user is off: proven on a fresh connection on every node.
    op.step(STEPS[2]);
    for (const address of spec.nodes) await redisCallsWithinAMinute.verifyUserLogin(spec.name, 'operator', address).catch(surfaceActivityFailure);

    // The users are additive; this is the step that cuts off whoever still logs in with the old password.
    op.step(STEPS[3], `**approval needed**: the default user goes off on ${spec.nodes.length} nodes, so every client still using the cluster's old password is refused from then on. Send the \`approve\` update once the clients use the application user, or \`abort\` to decline (the new users stay; nothing else changes).`);
    const decision = await gate.decide({ preApproved: input.approve, timeoutSeconds: input.approvalTimeoutSeconds });
    if (!decision.approved) {
      throw ApplicationFailure.create({ type: 'Declined', nonRetryable: true, message: `turning the default user off was declined (${decision.declined}); the ACL users exist on every node and the old password still works` });
    }
    report.approval = decision.approval;

    op.step(STEPS[4]);
    for (const address of spec.nodes) {
      const { rewritten } = await redisCallsWithinAMinute.disableDefaultUser(spec.name, address).catch(surfaceActivityFailure);
      if (!rewritten) report.notRewritten.push(address);
    }

    op.step(STEPS[5]);
    await pollingWithin(120)
      .awaitClusterHealthy(spec.name, spec.nodes, { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster }, 120_000, ['NODE_UNREACHABLE', 'AUTH_FAILED', 'REPLICA_LINK_DOWN'])
      .catch(surfaceActivityFailure);
    report.notes.push(
      `the default user is off: clients and Envoy log in as the application user now (AUTH <user> <password>); the cluster's "auth" password no longer opens a node`,
      `remove clusters.${spec.name}.auth from the worker's inventory once every client has moved`,
    );
    op.finish('succeeded', `ACL users on ${spec.nodes.length} nodes; the default user is off.`);
    return report;
  });
}
