/**
 * Slot migration with the protocol of the Redis Cluster specification: IMPORTING on the target,
 * MIGRATING on the source, GETKEYSINSLOT + MIGRATE ... KEYS until the source is empty, then
 * SETSLOT NODE on the target, the source and the other masters. A batch of slots is one
 * activity; it inspects the live state first, so a retry resumes or completes a half-done move.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type Redis from 'ioredis';
import { splitAddress, type ClusterNode } from '../../cluster';
import { myself } from './cluster';
import type { NodeConnector } from './connection';
import { faultPoint } from '../faults';

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

const owns = (node: ClusterNode | undefined, slot: number) => !!node?.slots.some((r) => slot >= r.start && slot <= r.end);

async function pipelineOk(redis: Redis, commands: string[][], what: string): Promise<void> {
  if (commands.length === 0) return;
  const pipeline = redis.pipeline();
  for (const c of commands) pipeline.call(c[0]!, ...c.slice(1));
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([err]) => err);
  if (failed) throw new Error(`${what}: ${failed[0]!.message}`);
}

/**
 * SETSLOT NODE on a node that may have stopped being a master meanwhile: a master whose last
 * slot moved away turns itself into a replica of the new owner (cluster-allow-replica-migration),
 * and a replica takes slot ownership from gossip, so there is nothing left to tell it.
 */
async function assignOnMaster(redis: Redis, commands: string[][], what: string): Promise<void> {
  try {
    await pipelineOk(redis, commands, what);
  } catch (err) {
    if (!/only with masters/.test((err as Error).message) || (await myself(redis)).role === 'master') throw err;
  }
}

export function createMigrateActivities(connectorFor: (cluster: string) => NodeConnector) {
  return {
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
      // Heartbeat on a timer, so a long MIGRATE does not look like a dead worker.
      const beat = setInterval(() => ctx.heartbeat({ slot: current, keysMoved: result.keysMoved }), 1000);
      try {
        return await connector.withNodes([batch.from.address, batch.to.address, ...batch.others], async (nodes) => {
          const source = nodes.get(batch.from.address)!;
          const target = nodes.get(batch.to.address)!;
          const [src, dst] = await Promise.all([myself(source), myself(target)]);
          if (src.id !== batch.from.id || dst.id !== batch.to.id) {
            throw ApplicationFailure.create({ type: 'TopologyChanged', nonRetryable: true, message: `expected ${batch.from.address} to be ${batch.from.id} and ${batch.to.address} to be ${batch.to.id}: the topology changed; plan the rebalance again` });
          }

          // What each slot needs, from the live state (a retry of this batch lands here too).
          const toOpen: number[] = [];
          const toFinish: number[] = [];
          for (const slot of batch.slots) {
            const targetOwns = owns(dst, slot);
            const sourceOwns = owns(src, slot);
            const open = src.migrating.some((m) => m.slot === slot) || dst.importing.some((i) => i.slot === slot);
            if (targetOwns || open) result.slotsResumed++;
            if (targetOwns) toFinish.push(slot);
            else if (sourceOwns) toOpen.push(slot);
            else {
              throw ApplicationFailure.create({ type: 'SlotMigrationFailed', nonRetryable: true, message: `slot ${slot} is owned by neither ${batch.from.address} nor ${batch.to.address}`, details: [{ slot }] });
            }
          }
          await pipelineOk(target, toOpen.filter((s) => !dst.importing.some((i) => i.slot === s)).map((s) => ['CLUSTER', 'SETSLOT', String(s), 'IMPORTING', batch.from.id]), `${batch.to.address} SETSLOT IMPORTING`);
          await pipelineOk(source, toOpen.filter((s) => !src.migrating.some((m) => m.slot === s)).map((s) => ['CLUSTER', 'SETSLOT', String(s), 'MIGRATING', batch.to.id]), `${batch.from.address} SETSLOT MIGRATING`);
          faultPoint('after-open');

          for (const slot of toOpen) {
            current = slot;
            for (;;) {
              const keys = (await source.call('CLUSTER', 'GETKEYSINSLOT', String(slot), String(keysPer))) as string[];
              if (keys.length === 0) break;
              let replace = false;
              for (let attempt = 1; ; attempt++) {
                try {
                  await source.call('MIGRATE', host, String(port), '', '0', timeout, ...(replace ? ['REPLACE'] : []), ...auth, 'KEYS', ...keys);
                  break;
                } catch (err) {
                  const message = (err as Error).message;
                  // BUSYKEY: an interrupted MIGRATE copied the key but did not delete it here. While
                  // a key exists on the source, clients write to the source, so its copy is the newest.
                  if (/BUSYKEY/.test(message) && !replace) {
                    replace = true;
                    result.keysReplaced += keys.length;
                    continue;
                  }
                  // IOERR: the target may or may not have the keys; the source still does. Retry.
                  if (/IOERR|timeout/i.test(message) && attempt < 5) {
                    replace = true;
                    await new Promise((r) => setTimeout(r, 200 * attempt));
                    continue;
                  }
                  throw ApplicationFailure.create({ type: 'SlotMigrationFailed', message: `MIGRATE of slot ${slot} from ${batch.from.address} to ${batch.to.address}: ${message}`, details: [{ slot, command: 'MIGRATE' }] });
                }
              }
              result.keysMoved += keys.length;
              faultPoint('mid-migrate');
              if (batch.maxKeysPerSecond) {
                const ahead = result.keysMoved / batch.maxKeysPerSecond - (Date.now() - started) / 1000;
                if (ahead > 0) await new Promise((r) => setTimeout(r, ahead * 1000));
              }
            }
            toFinish.push(slot);
          }

          // The new owner first, then the old one, then everyone else (the spec's order).
          const assign = (s: number) => ['CLUSTER', 'SETSLOT', String(s), 'NODE', batch.to.id];
          await pipelineOk(target, toFinish.map(assign), `${batch.to.address} SETSLOT NODE`);
          await assignOnMaster(source, toFinish.map(assign), `${batch.from.address} SETSLOT NODE`);
          faultPoint('before-others');
          await Promise.all(batch.others.map((a) => assignOnMaster(nodes.get(a)!, toFinish.map(assign), `${a} SETSLOT NODE`)));
          return result;
        });
      } finally {
        clearInterval(beat);
      }
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
