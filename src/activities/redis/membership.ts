/** Activities that change who belongs to the cluster: forgetting a node, taking over a dead master's slots. */
import type Redis from 'ioredis';
import type { SlotRange } from '../../cluster';
import { clusterNodes } from './cluster';
import type { NodeConnector } from './connection';
import { pollUntil } from '../waiting';

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
      const all: number[] = [];
      for (const r of slots) for (let s = r.start; s <= r.end; s++) all.push(s);
      const ordered = [newOwner.address, ...members.filter((a) => a !== newOwner.address)];
      for (const address of ordered) {
        await connector.withNode(address, async (redis) => {
          const pipeline = redis.pipeline();
          for (const s of all) pipeline.call('CLUSTER', 'SETSLOT', String(s), 'NODE', newOwner.id);
          await pipeline.exec();
        });
      }
      await connector.withNode(newOwner.address, (r) => r.call('CLUSTER', 'BUMPEPOCH'));
      return { slots: all.length };
    },

    /** CLUSTER RESET SOFT, so a removed node stops gossiping about the cluster. */
    async resetNode(cluster: string, address: string): Promise<void> {
      await connectorFor(cluster).withNode(address, async (r) => {
        if ((await clusterNodes(r)).length > 1) await r.call('CLUSTER', 'RESET', 'SOFT');
      });
    },
  };
}
