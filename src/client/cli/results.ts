/**
 * Short human renderings of each workflow's report, and its verdict: a report can come back
 * from a successful run and still say the cluster is not fine (exit code 1).
 */
import { formatDuration, formatFailoverReport, formatHealthReport } from '../format';
import type { ResultOf, RunbookWorkflow } from '../sdk';

const id8 = (id: string) => id.slice(0, 8);
const count = (n: number, what: string) => `${n.toLocaleString('en-US')} ${what}${n === 1 ? '' : 's'}`;
const bytes = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);
const notes = (list: readonly string[] | undefined) => (list ?? []).map((n) => `  note: ${n}`);

type Renderers = { [W in RunbookWorkflow]: (r: ResultOf<W>) => string[] };

const render: Renderers = {
  clusterHealth: (r) => [formatHealthReport(r.cluster, r)],
  createCluster: (r) => [
    `Cluster ${r.cluster}: ${r.alreadyFormed ? 'already formed this way, nothing changed' : r.dryRun ? 'dry run, the layout it would form' : 'created'}`,
    ...r.layout.masters.map((m) => `  master  ${m.address}  slots ${m.slots}`),
    ...r.layout.replicas.map((x) => `  replica ${x.address}  of ${x.masterAddress}`),
    ...(r.report ? [`  ${r.report.healthy ? 'healthy' : 'NOT healthy'}: ${r.report.summary.slotsCovered}/16384 slots served`] : []),
  ],
  failoverTest: (r) =>
    r.dryRun
      ? [`Failover test on ${r.cluster} (dry run, mode ${r.mode}): would fail master ${r.master.address} (${id8(r.master.id)}); replica ${r.replica.address} should take over`]
      : [formatFailoverReport(r)],
  addNode: (r) => [
    `${r.address} (${id8(r.id)}) ${r.alreadyMember ? 'was already a member' : 'added'} as ${r.role}${r.masterAddress ? ` of ${r.masterAddress}` : ''}${r.provisioned ? ' (new node started)' : ''}`,
    ...(r.rebalance ? [`  rebalance: ${count(r.rebalance.slotsMoved, 'slot')} and ${count(r.rebalance.keysMoved, 'key')} moved onto it${r.rebalance.aborted ? `; ABORTED: ${r.rebalance.aborted}` : ''}`] : []),
    ...notes(r.notes),
  ],
  removeNode: (r) => [
    `${r.node.address} (${id8(r.node.id)}, ${r.node.role}) removed from ${r.cluster}${r.stopped ? ' and stopped' : ''}`,
    ...(r.slotsDrained ? [`  drained ${count(r.slotsDrained, 'slot')} (${count(r.keysMoved, 'key')})`] : []),
    ...(r.slotsTakenOver ? [`  ${count(r.slotsTakenOver, 'slot')} of the dead master given to another master (approved by ${r.approval?.by ?? '?'})`] : []),
    ...r.replicasRepointed.map((x) => `  replica ${x.address} now replicates ${x.masterAddress}`),
    ...notes(r.notes),
  ],
  rebalance: (r) => [
    r.dryRun
      ? `Rebalance of ${r.cluster} (dry run): ${count(r.plan.slotsToMove, 'slot')} to move in ${count(r.plan.moves.length, 'move')}`
      : `Rebalance of ${r.cluster}: ${count(r.slotsMoved, 'slot')} and ${count(r.keysMoved, 'key')} moved (${r.keysPerSecond} keys/s, ${count(r.runs, 'run')})`,
    ...r.plan.moves.slice(0, 10).map((m) => `  ${m.from.address} -> ${m.to.address}: ${count(m.slots.reduce((n, s) => n + s.end - s.start + 1, 0), 'slot')}`),
    ...(r.plan.moves.length > 10 ? [`  ... ${r.plan.moves.length - 10} more moves (--json shows all)`] : []),
    ...(r.aborted ? [`  ABORTED: ${r.aborted}; no slot was left open`] : []),
    ...(r.findingsAfter ?? []).map((f) => `  after: ${f}`),
  ],
  backupCluster: (r) => [
    `Backup ${r.backupId} of ${r.cluster} in store ${r.store}: ${count(r.keys, 'key')}, ${bytes(r.bytes)}, ${count(r.shards.length, 'shard')} in ${formatDuration(r.durationMs)}`,
    ...r.shards.map((s) => `  shard ${s.index} slots ${s.slots}: ${count(s.keys, 'key')} from ${s.role} ${s.source}`),
    ...r.fallbacks.map((f) => `  fallback: ${f}`),
    ...(r.pruned.length ? [`  retention removed: ${r.pruned.join(', ')}`] : []),
  ],
  restoreCluster: (r) => [
    r.dryRun
      ? `Restore of ${r.backupId} (of ${r.from}, taken ${r.backupTakenAt}) into ${r.cluster}: dry run, backup checked (${bytes(r.bytesRead)} read); the plan:`
      : `Backup ${r.backupId} (of ${r.from}, taken ${r.backupTakenAt}) restored into ${r.cluster} in ${formatDuration(r.durationMs)}, approved by ${r.approval?.by ?? '?'}`,
    ...(r.dryRun
      ? r.plan.map((a) => `  ${a.fromAddress} (${id8(a.fromId)}) -> ${a.toAddress} ${a.role}${a.slots ? ` slots ${a.slots}` : ''}`)
      : r.keys.map((k) => `  shard ${k.shard} on ${k.master}: ${count(k.restored, 'key')} (backup: ${k.expected})`)),
  ],
  verifyBackup: (r) => [
    `Backup ${r.backupId} of ${r.cluster} restores: ${formatDuration(r.restoreMs)} on scratch nodes ${r.scratchNodes[0] ?? '?'}..., ${bytes(r.bytesRead)} read`,
    ...r.keys.map((k) => `  shard ${k.shard}: ${count(k.restored, 'key')} (backup: ${k.expected})${k.restored === k.expected ? '' : '  MISMATCH'}`),
  ],
  repairCluster: (r) => [
    `Repair of ${r.cluster}${r.dryRun ? ' (dry run)' : ''}: ${r.repaired ? 'every slot served, none open' : 'NOT repaired'}`,
    ...(r.dryRun ? [`  plan: restart ${r.plan.restart.filter((x) => x.restart).length} nodes, close ${r.plan.openSlots.length} open slots, assign ${r.plan.assign.reduce((n, a) => n + a.slotCount, 0)} uncovered slots`] : []),
    ...(r.nodesRestarted.length ? [`  restarted: ${r.nodesRestarted.join(', ')}`] : []),
    ...(r.openSlotsClosed.length ? [`  open slots closed: ${r.openSlotsClosed.map((s) => s.slot).join(', ')}`] : []),
    ...r.slotsAssigned.map((a) => `  ${count(a.slotCount, 'slot')} given to ${a.master.address}`),
    ...(r.assignmentDeclined ? [`  uncovered slots left: ${r.assignmentDeclined}`] : []),
    ...(r.after?.findings ?? []).map((f) => `  after: ${f}`),
    ...notes(r.notes),
  ],
  routingCheck: (r) => [
    `Routing of ${r.cluster}: ${count(r.ranges, 'slot range')}, ${r.keysPerRange} keys each`,
    ...[r.proxy, r.direct].filter((v) => v !== undefined).map((v) => `  ${v.through === 'proxy' ? 'through' : 'direct to'} ${v.address}: ${v.asExpected ? 'as expected' : 'UNEXPECTED'}. ${v.advice}`),
    ...notes(r.notes),
  ],
  upgradeRedis: (r) => [
    `Upgrade of ${r.cluster} to ${r.version}${r.dryRun ? ' (dry run)' : ''}: ${r.dryRun ? `${count(r.plan.nodesToReplace, 'node')} to replace in ${count(r.plan.waves.length, 'wave')}` : `${count(r.replaced.filter((x) => x.changed).length, 'node')} replaced, ${count(r.failovers.length, 'failover')}`}${r.engines?.length ? `; nodes run ${r.engines.join(', ')}` : ''}`,
    ...(r.aborted ? [`  ABORTED: ${r.aborted}`] : []),
    ...r.nodes.map((n) => `  ${n.address}: ${n.version}${!n.redisVersion ? ' (no answer)' : n.engine === 'valkey' ? ` (valkey_version ${n.redisVersion})` : ` (redis_version ${n.redisVersion})`}`),
    ...r.findingsAfter.map((f) => `  new finding: ${f}`),
  ],
  configureAcl: (r) => [
    `ACL users on ${r.cluster}${r.dryRun ? ' (dry run)' : ''}: ${r.alreadyConfigured.length === Object.keys(r.created).length ? 'every node already had them, the default user off' : r.dryRun ? 'would create' : 'created; the default user is off'}`,
    ...Object.entries(r.created).filter(([, users]) => users.length > 0).map(([address, users]) => `  ${address}: ${users.join(', ')}`),
    ...(r.notRewritten.length ? [`  no config file (in memory only): ${r.notRewritten.join(', ')}`] : []),
    ...notes(r.notes),
  ],
  rotateCredentials: (r) => [
    `Password of the ${r.user} user on ${r.cluster}${r.dryRun ? ' (dry run): every node answers, the new password is set' : `: new one on every node (added on ${count(r.added.length, 'node')}), the old one removed on ${count(r.removed.length, 'node')}`}`,
    ...(r.notRewritten.length ? [`  no config file (in memory only): ${r.notRewritten.join(', ')}`] : []),
    ...notes(r.notes),
  ],
  upgradeEnvoy: (r) => [
    `Proxy ${r.proxy} (${r.container})${r.dryRun ? ' (dry run)' : ''}: ${r.oldImage} -> ${r.newImage}: ` +
      (r.dryRun ? 'would be replaced' : !r.changed ? 'already ran it' : r.rolledBack ? `NOT ready, rolled back (${r.readiness})` : `ready${r.readyMs !== undefined ? ` in ${formatDuration(r.readyMs)}` : ''}`),
  ],
};

export function formatResult(type: string, result: unknown): string {
  const renderer = (render as Record<string, ((r: unknown) => string[]) | undefined>)[type];
  return renderer ? renderer(result).join('\n') : JSON.stringify(result, null, 2);
}

/** What in a report is not fine, though the workflow succeeded; undefined when all is well. */
export function verdictProblem(type: string, result: unknown): string | undefined {
  const r = result as Record<string, unknown> & { dryRun?: boolean; aborted?: string };
  switch (type) {
    case 'clusterHealth':
      if (!r.healthy) return `cluster ${String(r.cluster)} is not healthy: the findings above say what to do`;
      return (result as ResultOf<'clusterHealth'>).diagnosis?.findings.some((f) => f.severity === 'critical') ? `the diagnosis of cluster ${String(r.cluster)} has critical findings: see above` : undefined;
    case 'failoverTest': {
      const f = result as ResultOf<'failoverTest'>;
      if (f.dryRun) return undefined;
      if (f.canaries.lost > 0) return `${f.canaries.lost} canary keys were lost in the failover`;
      return f.healthyAfter === false ? 'the cluster is not healthy after the failover: run redisforge health' : undefined;
    }
    case 'routingCheck': {
      const c = result as ResultOf<'routingCheck'>;
      const bad = [c.proxy, c.direct].filter((v) => v && !v.asExpected);
      return bad.length ? `routing is not as expected ${bad.map((v) => `${v!.through === 'proxy' ? 'through' : 'on'} ${v!.address}`).join(' and ')}: see the advice above` : undefined;
    }
    case 'repairCluster':
      return r.dryRun || r.repaired ? undefined : 'the cluster is not repaired: see the notes above';
    case 'rebalance':
    case 'upgradeRedis':
      return r.aborted ? `aborted: ${r.aborted}` : undefined;
    case 'upgradeEnvoy':
      return r.rolledBack ? 'the new proxy did not get ready and was rolled back' : undefined;
    default:
      return undefined;
  }
}
