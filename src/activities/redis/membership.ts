/** Activities that change who belongs to the cluster: forgetting a node, taking over a dead master's slots. */
import { ApplicationFailure } from '@temporalio/common';
import type Redis from 'ioredis';
import { slotInRanges, slotsOf, type SlotRange } from '../../cluster';
import { callChecked, clusterNodes, pipelineChecked } from './commands';
import type { NodeConnector } from './connection';
import { pollUntil } from '../../util/polling';
import { heartbeating } from '../heartbeat';

/** Redis keeps a forgotten node banned from gossip this long; all nodes must forget it within it. */
const FORGET_BAN_MS = 60_000;

async function knows(redis: Redis, id: string): Promise<boolean> {
  return (await clusterNodes(redis)).some((n) => n.id === id && !n.myself);
}

export function createMembershipActivities(connectorFor: (cluster: string) => NodeConnector) {
  return {
    /**
     * CLUSTER FORGET on every node at once, then again on any that learnt it back through
     * gossip, until none knows it; all within the 60 s ban window the first FORGET opened.
     */
    async forgetNode(cluster: string, nodeId: string, members: string[]): Promise<{ rounds: number }> {
      const connector = connectorFor(cluster);
      let rounds = 0;
      await pollUntil(
        async () => {
          const knowing = (await Promise.all(members.map(async (a) => ((await connector.withNode(a, (r) => knows(r, nodeId)).catch(() => false)) ? a : undefined)))).filter((a): a is string => !!a);
          if (knowing.length === 0) return { done: true, value: undefined };
          rounds++;
          await Promise.all(knowing.map((a) => connector.withNode(a, (r) => r.call('CLUSTER', 'FORGET', nodeId)).catch(() => undefined)));
          return { done: false, status: `still known by ${knowing.join(', ')}` };
        },
        { what: `every node to forget ${nodeId.slice(0, 8)}`, timeoutMs: FORGET_BAN_MS - 5_000, intervalMs: 100 },
      );
      return { rounds };
    },

    /**
     * Gives a dead master's slots to a live one: SETSLOT NODE on every live node, then BUMPEPOCH on
     * the new owner so its claim wins over the dead node's. The keys of those slots are lost.
     */
    async takeOverSlots(cluster: string, slots: SlotRange[], newOwner: { id: string; address: string }, members: string[]): Promise<{ slots: number }> {
      const connector = connectorFor(cluster);
      const all = slotsOf(slots);
      const ordered = [newOwner.address, ...members.filter((a) => a !== newOwner.address)];
      for (const address of ordered) {
        await connector.withNode(address, async (redis) => {
          // Replicas refuse SETSLOT and learn the owner from gossip; a retry skips what a node
          // already gives to the new owner; every reply is checked.
          const view = await clusterNodes(redis);
          if (view.find((n) => n.myself)?.role !== 'master') return;
          const owned = view.find((n) => n.id === newOwner.id)?.slots ?? [];
          const todo = all.filter((s) => !slotInRanges(s, owned));
          await pipelineChecked(redis, address, todo.map((s) => ['CLUSTER', 'SETSLOT', String(s), 'NODE', newOwner.id]));
        });
      }
      await connector.withNode(newOwner.address, (r) => callChecked(r, newOwner.address, 'CLUSTER', 'BUMPEPOCH'));
      return { slots: all.length };
    },

    /**
     * Makes a removed node forget the cluster and its data: CLUSTER RESET HARD (a new id, no
     * slots, no peers), then FLUSHALL, which its AOF records, so a restart of the node reloads
     * nothing. Refused when the address answers as another node that still belongs to a cluster.
     */
    async resetNode(cluster: string, address: string, expectedId?: string): Promise<void> {
      await heartbeating({ resetting: address }, () => connectorFor(cluster).withNode(address, async (r) => {
        const view = await clusterNodes(r);
        const me = view.find((n) => n.myself)!;
        // After a reset (a retry lands here) the node has a new id, but no peer and no slot.
        if (expectedId && me.id !== expectedId && (view.length > 1 || me.slots.length > 0)) {
          throw ApplicationFailure.create({ type: 'TopologyChanged', nonRetryable: true, message: `${address} is node ${me.id}, not ${expectedId}: it was not reset` });
        }
        if (view.length > 1) await r.call('CLUSTER', 'RESET', 'HARD');
        // A replica turned master by the reset flushed only its memory; its AOF still has the keys.
        await r.call('FLUSHALL');
      }));
    },
  };
}
