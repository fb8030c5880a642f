/**
 * Activities of repairCluster: what a down node left behind, waiting for restarted nodes to
 * rejoin, closing an open slot without losing a key, and assigning slots nobody serves. Each
 * reads the live state first, so running it twice has the effect of running it once.
 */
import { ApplicationFailure } from '@temporalio/common';
import {
  isFailing,
  nodesConfNodes,
  parseNodesConf,
  rangesFromSlots,
  slotInRanges,
  slotsOf,
  splitAddress,
  type ClusterNode,
  type NodeRef,
  type OpenSlotFacts,
  type SlotHolder,
  type SlotKeyCount,
  type SlotRange,
} from '../../cluster';
import { firstFileText, type NodeRuntime } from '../../runtime';
import { observeCluster } from './cluster';
import { callChecked, clusterNodes, myself, pipelineChecked, setSlotNode } from './commands';
import type { NodeConnector } from './connection';
import { heartbeating } from '../heartbeat';
import { pollUntil } from '../../util/polling';

/** What is left of a member that does not answer: is it running, and is its data still its own. */
export interface DownNodeState {
  status: 'running' | 'stopped' | 'unknown';
  /** intact: its nodes.conf names it; missing: no nodes.conf; other-node: nodes.conf of another node. */
  data: 'intact' | 'missing' | 'other-node';
  detail: string;
}

export interface CloseSlotResult {
  keysMoved: number;
  /** Copies on a node that did not serve the slot, of keys the serving side also held: dropped, named here. */
  staleCopiesDropped: string[];
}

function holderOf(me: ClusterNode, slot: number, keys: number): SlotHolder {
  return {
    id: me.id, address: me.address, owns: slotInRanges(slot, me.slots), keys,
    migratingTo: me.migrating.find((m) => m.slot === slot)?.peerId, importingFrom: me.importing.find((i) => i.slot === slot)?.peerId,
  };
}

/** Each command preceded by ASKING, for a node that imports the slot rather than owns it. */
const asking = (commands: string[][], needed: boolean) => (needed ? commands.flatMap((c) => [['ASKING'], c]) : commands);

function repairFailed(message: string, slot?: number): ApplicationFailure {
  return ApplicationFailure.create({ type: 'SlotRepairFailed', nonRetryable: true, message, details: [{ slot }] });
}

export function createRepairActivities(connectorFor: (cluster: string) => NodeConnector, runtimeFor: (cluster: string) => NodeRuntime) {
  return {
    /** Whether a down member can come back as itself: starting it without its nodes.conf would make a new, empty node. */
    async inspectDownNode(cluster: string, address: string, expectedId: string): Promise<DownNodeState> {
      const runtime = runtimeFor(cluster);
      const status = await runtime.status(address).catch(() => 'unknown' as const);
      const text = await runtime.readDataFiles(address, ['nodes.conf']).then(firstFileText).catch(() => undefined);
      if (text === undefined) return { status, data: 'missing', detail: 'its data directory has no nodes.conf' };
      const me = nodesConfNodes(parseNodesConf(text)).find((n) => n.myself);
      if (me?.id === expectedId) return { status, data: 'intact', detail: 'its nodes.conf names it' };
      return { status, data: 'other-node', detail: `its nodes.conf belongs to ${me ? `node ${me.id.slice(0, 8)}` : 'no node'}` };
    },

    /** Waits until each node answers as itself and no reachable node flags it fail or fail?. */
    async awaitNodesRejoined(cluster: string, seeds: string[], ids: string[], timeoutMs: number): Promise<void> {
      const connector = connectorFor(cluster);
      await pollUntil(
        async () => {
          const observations = await observeCluster(connector, seeds);
          const selves = new Set(observations.flatMap((o) => o.view?.filter((n) => n.myself).map((n) => n.id) ?? []));
          const pending = ids.filter((id) => !selves.has(id) || observations.some((o) => o.view?.some((n) => n.id === id && (n.flags.includes('fail') || n.flags.includes('fail?')))));
          if (pending.length === 0) return { done: true, value: undefined };
          return { done: false, status: pending.map((id) => `${id.slice(0, 8)} ${selves.has(id) ? 'still flagged failing' : 'not answering'}`).join(', ') };
        },
        { what: 'the restarted nodes to rejoin (answering, flagged failing by no node)', timeoutMs, intervalMs: 250 },
      );
    },

    /** Each master's own word on each slot (owner, MIGRATING, IMPORTING) and its key count there. */
    async inspectOpenSlots(cluster: string, masters: string[], slots: number[]): Promise<OpenSlotFacts[]> {
      const connector = connectorFor(cluster);
      const perNode = await Promise.all(
        masters.map((address) =>
          connector.withNode(address, async (redis) => {
            const me = await myself(redis);
            const counts = await pipelineChecked(redis, address, slots.map((s) => ['CLUSTER', 'COUNTKEYSINSLOT', String(s)]));
            return slots.map((slot, i) => holderOf({ ...me, address }, slot, Number(counts[i])));
          }),
        ),
      );
      return slots.map((slot, i) => ({ slot, holders: perNode.map((holders) => holders[i]!) }));
    },

    /** Slots that hold keys on each master, among `slots`. */
    async countKeysInSlots(cluster: string, masters: string[], slots: SlotRange[]): Promise<SlotKeyCount[]> {
      const all = slotsOf(slots);
      const connector = connectorFor(cluster);
      const found = await Promise.all(
        masters.map((address) =>
          connector.withNode(address, async (redis) => {
            const out: SlotKeyCount[] = [];
            for (let i = 0; i < all.length; i += 2048) {
              const chunk = all.slice(i, i + 2048);
              const counts = await pipelineChecked(redis, address, chunk.map((s) => ['CLUSTER', 'COUNTKEYSINSLOT', String(s)]));
              chunk.forEach((slot, j) => Number(counts[j]) > 0 && out.push({ slot, address, keys: Number(counts[j]) }));
            }
            return out;
          }),
        ),
      );
      return found.flat();
    },

    /**
     * Closes one open slot on `owner` (none: only clears the open states). Keys on any other
     * master move to the owner with MIGRATE; then SETSLOT NODE on the owner first, then on every
     * other master, which also clears their MIGRATING/IMPORTING. A key on both sides keeps the
     * copy clients were reading: the slot owner's (the source's while it still owns the slot).
     */
    async closeOpenSlot(cluster: string, step: { slot: number; owner?: NodeRef; masters: string[] }): Promise<CloseSlotResult> {
      const connector = connectorFor(cluster);
      const slot = String(step.slot);
      const result: CloseSlotResult = { keysMoved: 0, staleCopiesDropped: [] };
      const auth = connector.migrateAuth();
      const problem = await heartbeating(() => ({ slot: step.slot, keysMoved: result.keysMoved }), () =>
        connector.withNodes(step.masters, async (nodes): Promise<string | undefined> => {
          const states = new Map<string, SlotHolder>();
          for (const [address, redis] of nodes) {
            const count = Number(await redis.call('CLUSTER', 'COUNTKEYSINSLOT', slot));
            states.set(address, holderOf({ ...(await myself(redis)), address }, step.slot, count));
          }
          if (!step.owner) {
            for (const [address, h] of states) if (h.migratingTo || h.importingFrom) await callChecked(nodes.get(address)!, address, 'CLUSTER', 'SETSLOT', slot, 'STABLE');
            return undefined;
          }
          const owner = nodes.get(step.owner.address);
          const t = states.get(step.owner.address);
          if (!owner || t?.id !== step.owner.id) return `${step.owner.address} is no longer node ${step.owner.id}: the topology changed; run repairCluster again`;
          // Undoing a move: the owner stops sending clients to the target before its keys come back.
          if (t.migratingTo) await callChecked(owner, t.address, 'CLUSTER', 'SETSLOT', slot, 'STABLE');
          const sources = [...states.values()].filter((h) => h.id !== t.id && h.keys > 0);
          // RESTORE-ASKING is accepted only by the owner or a node importing the slot.
          if (sources.length > 0 && !t.owns && !t.importingFrom) await callChecked(owner, t.address, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', sources[0]!.id);
          const { host, port } = splitAddress(t.address);
          for (const src of sources) {
            const redis = nodes.get(src.address)!;
            // While its keys leave, the serving source sends clients on to the owner for the moved ones (ASK).
            if (src.owns && src.migratingTo !== t.id) {
              await pipelineChecked(redis, src.address, [...(src.migratingTo ? [['CLUSTER', 'SETSLOT', slot, 'STABLE']] : []), ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', t.id]]);
            }
            // A node runs MIGRATE (and, after ASKING, DEL) for a slot it does not own only while the slot is open there.
            if (!src.owns && !src.importingFrom && !src.migratingTo) {
              await callChecked(redis, src.address, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', t.id);
              src.importingFrom = t.id;
            }
            for (let attempt = 1; ; ) {
              const keys = (await redis.call('CLUSTER', 'GETKEYSINSLOT', slot, '1000')) as string[];
              if (keys.length === 0) break;
              try {
                await redis.call('MIGRATE', host, String(port), '', '0', '60000', ...(src.owns ? ['REPLACE'] : []), ...auth, 'KEYS', ...keys);
                result.keysMoved += keys.length;
              } catch (err) {
                const message = (err as Error).message;
                if (/BUSYKEY/.test(message) && !src.owns) {
                  // The copy here is not the one clients read; the target has the key, keep its copy.
                  const exists = await pipelineChecked(owner, t.address, asking(keys.map((k) => ['EXISTS', k]), !t.owns));
                  const stale = keys.filter((_, i) => Number(exists[t.owns ? i : 2 * i + 1]) === 1);
                  if (stale.length === 0) throw err;
                  await pipelineChecked(redis, src.address, asking(stale.map((k) => ['DEL', k]), true));
                  result.staleCopiesDropped.push(...stale);
                } else if (/IOERR|timeout|CLUSTERDOWN|TRYAGAIN/i.test(message) && attempt++ < 8) {
                  // Transient: a node just restarted (CLUSTERDOWN until the cluster agrees again), or a slow target.
                  await new Promise((r) => setTimeout(r, 250 * attempt));
                } else {
                  return `MIGRATE of slot ${slot} from ${src.address} to ${t.address}: ${message}`;
                }
              }
            }
          }
          await callChecked(owner, t.address, 'CLUSTER', 'SETSLOT', slot, 'NODE', t.id);
          for (const [address, h] of states) {
            if (h.id === t.id) continue;
            const redis = nodes.get(address)!;
            if (h.importingFrom || (h.migratingTo && h.migratingTo !== t.id && h.keys === 0)) await callChecked(redis, address, 'CLUSTER', 'SETSLOT', slot, 'STABLE');
            await setSlotNode(redis, step.slot, t.id, (command) => callChecked(redis, address, ...command));
          }
          return undefined;
        }),
      );
      if (problem) throw repairFailed(connector.redact(problem), step.slot);
      return result;
    },

    /**
     * Gives uncovered slots to one master: DELSLOTS where its view still names a failing owner,
     * ADDSLOTSRANGE, then BUMPEPOCH so its claim outranks the old owner's as gossip spreads it.
     */
    async assignUncoveredSlots(cluster: string, assignment: { master: NodeRef; slots: SlotRange[] }): Promise<{ added: number; takenFromFailed: number }> {
      const { master } = assignment;
      const outcome = await heartbeating({ assigning: assignment.slots.length, to: master.address }, () => connectorFor(cluster).withNode(master.address, async (redis) => {
        const view = await clusterNodes(redis);
        const me = view.find((n) => n.myself)!;
        if (me.id !== master.id || me.role !== 'master') return { problem: `${master.address} is no longer master ${master.id}: run repairCluster again` };
        const owners = view.filter((n) => n.role === 'master' && n.id !== me.id);
        const add: number[] = [];
        const del: number[] = [];
        for (const s of slotsOf(assignment.slots)) {
          if (slotInRanges(s, me.slots)) continue;
          const owner = owners.find((n) => slotInRanges(s, n.slots));
          // Only a FAIL (the cluster agreed) frees a slot; fail? is one node's suspicion, and the owner may still serve.
          if (owner && !owner.flags.includes('fail')) return { problem: `slot ${s} is still owned by ${owner.address}, which ${isFailing(owner) ? 'is only suspected (fail?), not agreed failed' : 'is not flagged failed'}: it may serve it; run repairCluster again once the cluster agrees it failed` };
          if (owner) del.push(s);
          add.push(s);
        }
        const open = [...me.migrating, ...me.importing].filter((o) => slotInRanges(o.slot, assignment.slots)).map((o) => ['CLUSTER', 'SETSLOT', String(o.slot), 'STABLE']);
        const ranges = (slots: number[], cmd: string) => rangesFromSlots(slots).map((r) => ['CLUSTER', cmd, String(r.start), String(r.end)]);
        await pipelineChecked(redis, master.address, [...open, ...ranges(del, 'DELSLOTSRANGE'), ...ranges(add, 'ADDSLOTSRANGE')]);
        if (add.length > 0) await callChecked(redis, master.address, 'CLUSTER', 'BUMPEPOCH');
        return { added: add.length, takenFromFailed: del.length };
      }));
      if ('problem' in outcome) throw repairFailed(outcome.problem!);
      return outcome;
    },
  };
}
