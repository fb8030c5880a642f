/**
 * Running commands on one node: its CLUSTER NODES view, and commands whose refusal fails with the
 * node, slot and command named (ClusterCommandFailed), one at a time or as a checked pipeline.
 */
import { ApplicationFailure } from '@temporalio/common';
import type Redis from 'ioredis';
import { parseClusterNodes, type ClusterNode } from '../../cluster';

/** A node's CLUSTER NODES view, parsed. */
export async function clusterNodes(redis: Redis): Promise<ClusterNode[]> {
  return parseClusterNodes(String(await redis.call('CLUSTER', 'NODES')));
}

/** The node's own entry of its view. */
export async function myself(redis: Redis): Promise<ClusterNode> {
  return (await clusterNodes(redis)).find((n) => n.myself)!;
}

const SLOT_SUBCOMMANDS = /^(SETSLOT|COUNTKEYSINSLOT|GETKEYSINSLOT|ADDSLOTS|DELSLOTS|ADDSLOTSRANGE|DELSLOTSRANGE)$/i;

/** A cluster command a node refused, named with the node and the slot(s), so the operator knows what to look at. */
export function clusterCommandFailed(address: string, command: readonly string[], err: unknown): ApplicationFailure {
  const isSlotCommand = command[0]?.toUpperCase() === 'CLUSTER' && SLOT_SUBCOMMANDS.test(command[1] ?? '');
  const slots = isSlotCommand ? (/RANGE$/i.test(command[1]!) ? `${command[2]}-${command[3]}` : command[2]) : undefined;
  const text = command.join(' ');
  return ApplicationFailure.create({
    type: 'ClusterCommandFailed',
    message: `${address}: ${text} failed${slots ? ` (slot ${slots})` : ''}: ${(err as Error).message}`,
    details: [{ node: address, slot: slots, command: text }],
  });
}

/** One command, its failure named with the node, slot and command. */
export async function callChecked(redis: Redis, address: string, ...command: string[]): Promise<unknown> {
  try {
    return await redis.call(command[0]!, ...command.slice(1));
  } catch (err) {
    throw clusterCommandFailed(address, command, err);
  }
}

/** One reply of a pipeline: the node's refusal, or its answer. */
export type PipelineReply = [error: Error | null, value: unknown];

/** Commands in one pipeline, one reply each, refusals included: for a caller that tells them apart. */
export async function pipelineReplies(redis: Redis, address: string, commands: readonly string[][]): Promise<PipelineReply[]> {
  if (commands.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const c of commands) pipeline.call(c[0]!, ...c.slice(1));
  const results = (await pipeline.exec()) ?? [];
  if (results.length !== commands.length) throw clusterCommandFailed(address, commands[0]!, new Error(`the pipeline of ${commands.length} commands returned ${results.length} replies`));
  return results;
}

/** Commands in one pipeline, every reply checked: the first refused one fails the call, named. */
export async function pipelineChecked(redis: Redis, address: string, commands: readonly string[][]): Promise<unknown[]> {
  const results = await pipelineReplies(redis, address, commands);
  const i = results.findIndex(([err]) => err);
  if (i >= 0) throw clusterCommandFailed(address, commands[i]!, results[i]![0]);
  return results.map(([, value]) => value);
}

/**
 * CLUSTER SETSLOT slot NODE owner on one node, through `run` (the caller's way of naming a
 * refusal). A master whose last slot moved away turns itself into a replica of the new owner
 * (cluster-allow-replica-migration), and a replica refuses SETSLOT but learns the owner from
 * gossip: that refusal is no failure.
 */
export async function setSlotNode(redis: Redis, slot: number, ownerId: string, run: (command: string[]) => Promise<unknown>): Promise<void> {
  try {
    await run(['CLUSTER', 'SETSLOT', String(slot), 'NODE', ownerId]);
  } catch (err) {
    if (!/only with masters/.test((err as Error).message) || (await myself(redis)).role === 'master') throw err;
  }
}
