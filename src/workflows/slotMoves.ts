/**
 * Runs slot batches for rebalance and closes what they leave open. A batch opens one slot at a
 * time; when a batch fails or the run is cancelled, every batch is first allowed to stop, then
 * each slot one of them left IMPORTING or MIGRATING is closed, finished or undone by where its
 * keys are (as repairCluster decides), in a scope that a cancellation cannot interrupt.
 */
import { ActivityFailure, ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import { planOpenSlot, type OpenSlotFacts, type OpenSlotPlan } from '../cluster';
import type { MigrateBatch, MigrateResult } from '../activities/redis/migrate';
import { redisCallsWithinAMinute, slotMigrationWithinThirtyMinutes } from './activityOptions';
import { surfaceActivityFailure } from './failures';

export async function moveSlotBatches(cluster: string, batches: MigrateBatch[]): Promise<MigrateResult[]> {
  const settled = await Promise.allSettled(batches.map((b) => slotMigrationWithinThirtyMinutes.migrateSlots(cluster, b)));
  const rejected = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  if (rejected.length === 0) return settled.map((r) => (r as PromiseFulfilledResult<MigrateResult>).value);

  let note: string;
  let closed: OpenSlotPlan[] = [];
  try {
    const outcome = await CancellationScope.nonCancellable(() => closeOpenedSlots(cluster, batches));
    closed = outcome.closed;
    note = closed.length === 0 ? 'no slot was left open' : `the ${closed.length} slots it left open were closed: ${closed.map((p) => `${p.slot} ${p.action === 'finish' ? 'finished on' : 'kept by'} ${p.owner?.address ?? 'nobody'}`).join(', ')}`;
    // Keys of an open slot may sit on a node that did not answer; only the whole cluster's view can place them.
    if (outcome.unanswered.length > 0) note += `; ${outcome.unanswered.join(', ')} did not answer: once it is back (or replaced), run repairCluster`;
  } catch (err) {
    note = `**slots may be left open** (closing them failed: ${messageOf(err)}); run repairCluster`;
  }
  const cancelled = rejected.find(isCancellation);
  if (cancelled) throw cancelled;
  const first = rejected[0];
  const cause = first instanceof ActivityFailure && first.cause instanceof ApplicationFailure ? first.cause : undefined;
  try {
    surfaceActivityFailure(first);
  } catch {
    // Only the message is extended; the kind of failure stays the activity's.
  }
  throw ApplicationFailure.create({
    type: cause?.type ?? 'SlotMigrationFailed',
    nonRetryable: true,
    message: `${messageOf(first)}; ${note}`,
    details: [...((cause?.details as unknown[] | undefined) ?? []), { slotsClosed: closed }],
  });
}

function messageOf(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return (err as Error).message;
}

/**
 * Inspects the batches' slots on every master that answers and closes those open. A master that
 * does not answer is left out: its side of a slot is cleared by gossip once the owner is set.
 */
async function closeOpenedSlots(cluster: string, batches: MigrateBatch[]): Promise<{ closed: OpenSlotPlan[]; unanswered: string[] }> {
  const masters = [...new Set(batches.flatMap((b) => [b.from.address, b.to.address, ...b.others]))];
  const slots = batches.flatMap((b) => b.slots);
  const perMaster = await Promise.all(masters.map((m) => redisCallsWithinAMinute.inspectOpenSlots(cluster, [m], slots).catch(() => undefined)));
  const reachable = masters.filter((_, i) => perMaster[i] !== undefined);
  const facts: OpenSlotFacts[] = slots.map((slot, i) => ({ slot, holders: perMaster.flatMap((f) => (f ? f[i]!.holders : [])) }));
  const plans: OpenSlotPlan[] = [];
  for (const f of facts.filter((x) => x.holders.some((h) => h.migratingTo || h.importingFrom))) {
    const batch = batches.find((b) => b.slots.includes(f.slot))!;
    const target = f.holders.find((h) => h.id === batch.to.id);
    // The target owns the slot once SETSLOT NODE reached it (its epoch wins): it keeps it.
    const plan = planOpenSlot(f, target?.owns ? batch.to : batch.from);
    await slotMigrationWithinThirtyMinutes.closeOpenSlot(cluster, { slot: f.slot, owner: plan.owner, masters: reachable }).catch(surfaceActivityFailure);
    plans.push(plan);
  }
  return { closed: plans, unanswered: masters.filter((m) => !reachable.includes(m)) };
}
