/**
 * What a rebalance hands to its next run when it continues as new. It is the workflow's own
 * second argument, never part of the public input: a caller who could write it would skip the
 * preflight, the large-key check and dryRun and move any slots to any address. It is still
 * checked like an input, since a start request can carry a second argument too.
 */
import { workflowInfo } from '@temporalio/workflow';
import { z } from 'zod';
import { SLOT_COUNT, type RebalancePlan, type SlotMove } from '../cluster';
import { formatIssues } from '../validation';
import { invalidInput } from './failures';

const slot = z.int().min(0).max(SLOT_COUNT - 1);
const slotRange = z
  .object({ start: slot, end: slot })
  .strict()
  .refine((r) => r.start <= r.end, 'start must not be after end');
const node = z.object({ id: z.string().regex(/^[0-9a-f]{40}$/, 'expected a 40-hex node id'), address: z.string().regex(/^[A-Za-z0-9._-]+:\d{1,5}$/, 'expected "host:port"') }).strict();
const slotMove = z.object({ from: node, to: node, slots: z.array(slotRange).min(1) }).strict();
const plan = z
  .object({ moves: z.array(slotMove), slotsToMove: z.int().min(0).max(SLOT_COUNT), targets: z.record(z.string(), z.int().min(0).max(SLOT_COUNT)) })
  .strict();
const count = z.int().min(0);

export const rebalanceStateSchema = z
  .object({
    plan,
    /** Every master when the plan was made: each learns each new owner (SETSLOT NODE). */
    masters: z.array(node.shape.address).min(1),
    remaining: z.array(slotMove),
    slotsDone: count,
    keysMoved: count,
    keysReplaced: count,
    /** Milliseconds spent moving, over every run of this rebalance. */
    movingMs: z.number().min(0),
    runs: z.int().min(1),
    maxKeysPerSecond: z.number().positive().optional(),
    aborted: z.string().optional(),
  })
  .strict();

export interface RebalanceState {
  plan: RebalancePlan;
  masters: string[];
  remaining: SlotMove[];
  slotsDone: number;
  keysMoved: number;
  keysReplaced: number;
  movingMs: number;
  runs: number;
  maxKeysPerSecond?: number;
  aborted?: string;
}

/**
 * The carried state of a continued run, or undefined on a fresh one. State on a run that did not
 * continue from another (someone sent it), or state that does not have the right shape, fails
 * the workflow at once: before the lock, so nothing holds the cluster and no task retries.
 */
export function carriedState(raw: unknown): RebalanceState | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!workflowInfo().continuedFromExecutionRunId) {
    throw invalidInput(['(second argument): rebalance takes one input object; the second argument is the state its own continued runs carry, never sent by a caller']);
  }
  const parsed = rebalanceStateSchema.safeParse(raw);
  if (!parsed.success) throw invalidInput(formatIssues(parsed.error).map((p) => `carried state ${p}`));
  return parsed.data;
}
