/**
 * Slot migration with the protocol of the Redis Cluster specification: IMPORTING on the target,
 * MIGRATING on the source, GETKEYSINSLOT + MIGRATE ... KEYS until the source is empty, then
 * SETSLOT NODE on the target, the source and the other masters. A batch of slots is one
 * activity; it inspects the live state first, so a retry resumes or completes a half-done move.
 * An error a retry would meet again (the target refuses the payload, a node is not a master, a
 * credential is refused) fails the batch at once as SlotMigrationFailed, naming node, slot and command.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type Redis from 'ioredis';
import { classifyMigrationError, deathVerdict, flattenInfo, parseInfo, slotInRanges, slotsOf, splitAddress, type SlotRange } from '../../cluster';
import type { MasterLoad } from '../../cluster/capacity';
import { memoryOf } from '../../cluster/diagnosis';
import { heartbeating, throwIfCancelled } from '../heartbeat';
import { observeNode } from './cluster';
import { myself, setSlotNode } from './commands';
import type { NodeConnector } from './connection';

/** Keys sized (MEMORY USAGE) per slot to estimate its bytes for a memory-weighted rebalance. */
const KEYS_SAMPLED_PER_SLOT = 3;

export interface MigrateBatch {
  from: { id: string; address: string };
  to: { id: string; address: string };
  slots: number[];
  /** The other masters, which must learn the new owner too. */
  others: string[];
  /** Keys per MIGRATE call. @default 1000 */
  keysPerMigrate?: number;
  /** Throttle for this batch; none when absent. */
  maxKeysPerSecond?: number;
  /** @default 60000 */
  migrateTimeoutMs?: number;
}

export interface MigrateResult {
  slots: number[];
  keysMoved: number;
  /** Keys found on both nodes after an interrupted MIGRATE, overwritten with the source's copy. */
  keysReplaced: number;
  /** Slots that were already partly or wholly moved when this attempt began. */
  slotsResumed: number;
}

/** A move that a retry cannot make succeed: fails the workflow at once with where and what. */
function migrationFailure(message: string, details: { node: string; slot?: number; command: string; from: string; to: string }): ApplicationFailure {
  return ApplicationFailure.create({ type: 'SlotMigrationFailed', nonRetryable: true, message: `${message} (cannot succeed on retry)`, details: [details] });
}

/** SlotMigrationFailed for the source or target of `batch` when a majority of the other masters flag it `fail`. */
async function downNodeFailure(connector: NodeConnector, batch: MigrateBatch): Promise<ApplicationFailure | undefined> {
  const all = [batch.from.address, batch.to.address, ...batch.others];
  const observations = await Promise.all(all.map((a) => observeNode(connector, a)));
  for (const node of [batch.from, batch.to]) {
    const voters = observations.filter((o) => o.address !== node.address);
    // Masters that do not answer count against a majority, under a placeholder id.
    const ids = voters.map((o, i) => o.view?.find((n) => n.myself)?.id ?? `unanswered-${i}`);
    const verdict = deathVerdict(voters, node.id, ids);
    if (verdict.dead) {
      return migrationFailure(`${node.address} is down (${verdict.why}): moving slots ${batch.from.address} -> ${batch.to.address} stopped`, { node: node.address, command: 'connect', from: batch.from.address, to: batch.to.address });
    }
  }
  return undefined;
}

export function createMigrateActivities(connectorFor: (cluster: string) => NodeConnector) {
  return {
    /**
     * Moves a batch of slots one slot at a time: each slot is opened, emptied and assigned before
     * the next is opened, so a move that stops (a failure, a cancellation, a dead worker) leaves
     * at most one slot open, which the rebalance closes or a retry resumes.
     */
    async migrateSlots(cluster: string, batch: MigrateBatch): Promise<MigrateResult> {
      const ctx = Context.current();
      const connector = connectorFor(cluster);
      const keysPer = batch.keysPerMigrate ?? 1000;
      const timeout = String(batch.migrateTimeoutMs ?? 60_000);
      const { host, port } = splitAddress(batch.to.address);
      const auth = connector.migrateAuth();
      const result: MigrateResult = { slots: batch.slots, keysMoved: 0, keysReplaced: 0, slotsResumed: 0 };
      const started = Date.now();
      let current = batch.slots[0];
      const details = () => ({ slot: current, keysMoved: result.keysMoved });
      const fail = (node: string, slot: number | undefined, command: string, message: string) => migrationFailure(connector.redact(message), { node, slot, command, from: batch.from.address, to: batch.to.address });
      const moving = heartbeating(details, async () => {
        // The other masters only hear of the new owner sooner than gossip would tell them: one
        // that does not answer is left to gossip rather than stop the move.
        const others = (await Promise.all(batch.others.map((a) => connector.tryNode(a, async () => a)))).filter((a): a is string => !!a);
        return connector.withNodes([batch.from.address, batch.to.address, ...others], async (nodes) => {
          const source = nodes.get(batch.from.address)!;
          const target = nodes.get(batch.to.address)!;
          const [src, dst] = await Promise.all([myself(source), myself(target)]);
          if (src.id !== batch.from.id || dst.id !== batch.to.id) {
            throw ApplicationFailure.create({ type: 'TopologyChanged', nonRetryable: true, message: `expected ${batch.from.address} to be ${batch.from.id} and ${batch.to.address} to be ${batch.to.id}: the topology changed; plan the rebalance again` });
          }
          if (dst.role !== 'master') throw fail(batch.to.address, undefined, 'CLUSTER SETSLOT IMPORTING', `${batch.to.address} is not a master (it is a replica): slots can only move to a master`);
          /** One command on one node; an error a retry would meet again fails the move at once. */
          const run = async (redis: Redis, address: string, slot: number, command: string[]) => {
            try {
              return await redis.call(command[0]!, ...command.slice(1));
            } catch (err) {
              const message = `${address} ${command.slice(0, 4).join(' ')}: ${(err as Error).message}`;
              if (classifyMigrationError((err as Error).message) === 'transient') throw new Error(connector.redact(message));
              throw fail(address, slot, command.slice(0, 4).join(' '), message);
            }
          };
          const assign = (redis: Redis, address: string, slot: number) => setSlotNode(redis, slot, batch.to.id, (command) => run(redis, address, slot, command));

          for (const slot of batch.slots) {
            throwIfCancelled();
            current = slot;
            const targetOwns = slotInRanges(slot, dst.slots);
            const importing = dst.importing.some((i) => i.slot === slot);
            const migrating = src.migrating.some((m) => m.slot === slot);
            if (!targetOwns && !slotInRanges(slot, src.slots)) {
              throw fail(batch.from.address, slot, 'CLUSTER NODES', `slot ${slot} is owned by neither ${batch.from.address} nor ${batch.to.address}`);
            }
            if (targetOwns || importing || migrating) result.slotsResumed++;
            if (!targetOwns) {
              if (!importing) await run(target, batch.to.address, slot, ['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', batch.from.id]);
              if (!migrating) await run(source, batch.from.address, slot, ['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', batch.to.id]);
              await moveKeys(slot);
            }
            // The new owner first, then the old one, then everyone else (the spec's order).
            await assign(target, batch.to.address, slot);
            await assign(source, batch.from.address, slot);
            await Promise.all(others.map((a) => assign(nodes.get(a)!, a, slot)));
          }
          return result;

          async function moveKeys(slot: number): Promise<void> {
            for (;;) {
              throwIfCancelled();
              const keys = (await run(source, batch.from.address, slot, ['CLUSTER', 'GETKEYSINSLOT', String(slot), String(keysPer)])) as string[];
              if (keys.length === 0) return;
              let replace = false;
              for (let attempt = 1; ; attempt++) {
                try {
                  await source.call('MIGRATE', host, String(port), '', '0', timeout, ...(replace ? ['REPLACE'] : []), ...auth, 'KEYS', ...keys);
                  break;
                } catch (err) {
                  const message = (err as Error).message;
                  const kind = classifyMigrationError(message);
                  // BUSYKEY: an interrupted MIGRATE copied the key but did not delete it here. While
                  // a key exists on the source, clients write to the source, so its copy is the newest.
                  if (kind === 'busykey' && !replace) {
                    replace = true;
                    result.keysReplaced += keys.length;
                    continue;
                  }
                  // IOERR: the target may or may not have the keys; the source still does.
                  if (kind === 'transient' && attempt < 5) {
                    replace = true;
                    await ctx.sleep(200 * attempt);
                    continue;
                  }
                  const node = /Target instance replied/i.test(message) ? batch.to.address : batch.from.address;
                  const what = `MIGRATE of slot ${slot} from ${batch.from.address} to ${batch.to.address}: ${message}`;
                  if (kind === 'transient') throw ApplicationFailure.create({ type: 'SlotMigrationFailed', message: connector.redact(what), details: [{ node, slot, command: 'MIGRATE' }] });
                  throw fail(node, slot, 'MIGRATE', what);
                }
              }
              result.keysMoved += keys.length;
              // One heartbeat per MIGRATE: progress shows per call, and a crash test can stop here.
              ctx.heartbeat(details());
              if (batch.maxKeysPerSecond) {
                const ahead = result.keysMoved / batch.maxKeysPerSecond - (Date.now() - started) / 1000;
                if (ahead > 0) await ctx.sleep(ahead * 1000);
              }
            }
          }
        });
      });
      try {
        return await moving;
      } catch (err) {
        // A node that stays unreachable through retries and that the cluster itself judges failed
        // will not come back within this rebalance: fail now, naming it, rather than retry for minutes.
        const settled = (err instanceof ApplicationFailure && err.nonRetryable) || err instanceof CancelledFailure;
        if (settled || ctx.info.attempt < 3) throw err;
        throw (await heartbeating({ checking: 'whether the cluster flags the source or target failed' }, () => downNodeFailure(connector, batch))) ?? err;
      }
    },

    /**
     * What each master holds, for a capacity-aware rebalance: INFO memory, and the keys of every
     * slot it owns (CLUSTER COUNTKEYSINSLOT) and the MEMORY USAGE of a few keys of each, pipelined. Read-only.
     */
    async collectSlotLoads(
      cluster: string,
      masters: { id: string; address: string; slots: SlotRange[] }[],
      /**
       * when-limited: each slot's bytes only when some master has a maxmemory (the headroom check
       * judges only those): a cluster without limits is spared a COUNTKEYSINSLOT per slot and a
       * MEMORY USAGE per sampled key. @default always (what workflows from before asked for)
       */
      options: { slotBytes?: 'always' | 'when-limited' } = {},
    ): Promise<MasterLoad[]> {
      const connector = connectorFor(cluster);
      return heartbeating({ masters: masters.length }, async () => {
        const memories = await Promise.all(masters.map((m) => connector.withNode(m.address, async (redis) => memoryOf(flattenInfo(parseInfo(String(await redis.call('INFO', 'memory'))))).memory)));
        const weighed = options.slotBytes !== 'when-limited' || memories.some((m) => m.maxmemory > 0);
        return Promise.all(masters.map(async (m, i): Promise<MasterLoad> => ({
          id: m.id,
          address: m.address,
          slots: m.slots,
          slotBytes: weighed ? await connector.withNode(m.address, (redis) => slotBytesOn(redis, m.slots)) : [],
          usedBytes: memories[i]!.used,
          maxmemory: memories[i]!.maxmemory,
        })));
      });
    },

    /** Samples keys in the slots to move; returns those larger than `maxKeyBytes` (MEMORY USAGE). */
    async findLargeKeys(cluster: string, source: string, slots: number[], maxKeyBytes: number): Promise<{ key: string; bytes: number; slot: number }[]> {
      return connectorFor(cluster).withNode(source, async (redis) => {
        const found: { key: string; bytes: number; slot: number }[] = [];
        for (const slot of slots) {
          const keys = (await redis.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '16')) as string[];
          for (const key of keys) {
            const bytes = Number(await redis.call('MEMORY', 'USAGE', key));
            if (bytes > maxKeyBytes) found.push({ key, bytes, slot });
          }
        }
        return found.slice(0, 50);
      });
    },
  };
}

/** Each slot with keys and its bytes ([slot, bytes] pairs): its key count times the mean MEMORY USAGE of a few of its keys. */
async function slotBytesOn(redis: Redis, ranges: SlotRange[]): Promise<number[]> {
  const slots = slotsOf(ranges);
  const replies = async (commands: string[][]) => ((await redis.pipeline(commands).exec()) ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
  const counts = (await replies(slots.map((s) => ['cluster', 'countkeysinslot', String(s)]))).map(Number);
  const filled = slots.map((slot, i) => ({ slot, keys: counts[i]! })).filter((f) => f.keys > 0);
  const samples = (await replies(filled.map((f) => ['cluster', 'getkeysinslot', String(f.slot), String(KEYS_SAMPLED_PER_SLOT)]))) as string[][];
  const sizes = (await replies(samples.flat().map((k) => ['memory', 'usage', k]))).map((v) => Number(v ?? 0));
  const slotBytes: number[] = [];
  let at = 0;
  filled.forEach(({ slot, keys }, i) => {
    const sampled = sizes.slice(at, at + samples[i]!.length);
    at += samples[i]!.length;
    const mean = sampled.length ? sampled.reduce((a, b) => a + b, 0) / sampled.length : 0;
    slotBytes.push(slot, Math.round(mean * keys));
  });
  return slotBytes;
}
