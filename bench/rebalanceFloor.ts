/**
 * The floor of a rebalance: the slot migration protocol our migrateSlots activity runs, driven by
 * a bare loop in the bench process, with no Temporal, no activity boundaries, no per-batch
 * connections and no checks. The plan is the workflow's own (planRebalance with its defaults), and
 * the (source, target) pairs move in parallel as the workflow's `parallel` default moves them,
 * `threadsPerPair` loops per pair (ours: one). Per slot: SETSLOT IMPORTING on the target, MIGRATING
 * on the source, GETKEYSINSLOT + MIGRATE ... KEYS until the source is empty, then SETSLOT NODE on
 * every master at once.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import Redis from 'ioredis';
import { NodeConnector } from '../src/activities/redis/connection';
import { createMigrateActivities, type MigrateResult } from '../src/activities/redis/migrate';
import { batchSlots, parseClusterNodes, planRebalance, slotsOf, splitAddress, type RebalancePlan } from '../src/cluster';
import type { ClusterConfig } from '../src/config';

export interface FloorOptions {
  password: string;
  /** Keys per GETKEYSINSLOT and per MIGRATE, as the workflow's keysPerMigrate. @default 1000 */
  keysPerMigrate?: number;
  /** Loops per (source, target) pair, each on its own share of the pair's slots. @default 1 */
  threadsPerPair?: number;
  /**
   * "floor": the GETKEYSINSLOT after a MIGRATE pipelined behind it, SETSLOT NODE on every master
   * at once (5 round trips for a slot of under keysPerMigrate keys). "as-ours": each command
   * awaited as migrateSlots awaits it, SETSLOT NODE on the target, then the source, then the
   * others (8), which tells the protocol's cost from the orchestration's. @default "floor"
   */
  steps?: 'floor' | 'as-ours';
}

export interface FloorResult {
  plan: RebalancePlan;
  slotsMoved: number;
  keysMoved: number;
  /** MIGRATE calls, to compare with the nodes' INFO commandstats. */
  migrateCalls: number;
  ms: number;
}

const connect = (address: string, password: string) => {
  const { host, port } = splitAddress(address);
  return new Redis({ host, port, password, enableReadyCheck: false, maxRetriesPerRequest: 0 });
};

/** Plans from `seed`'s view of the cluster as the rebalance workflow does, then moves every slot of the plan. */
export async function floorRebalance(seed: string, options: FloorOptions): Promise<FloorResult> {
  const keysPer = options.keysPerMigrate ?? 1000;
  const threads = options.threadsPerPair ?? 1;
  const asOurs = options.steps === 'as-ours';
  const view = await withConnection(seed, options.password, async (r) => parseClusterNodes(String(await r.call('CLUSTER', 'NODES'))));
  const masters = view.filter((n) => n.role === 'master' && !n.flags.includes('fail')).map((n) => ({ id: n.id, address: n.address, slots: n.slots }));
  const plan = planRebalance(masters, { weights: {}, thresholdPercent: 2, useEmptyMasters: true });

  const started = Date.now();
  const counts = await Promise.all(
    plan.moves.flatMap((move) => {
      const slots = slotsOf(move.slots);
      const share = Math.ceil(slots.length / threads);
      return Array.from({ length: threads }, (_, t) => slots.slice(t * share, (t + 1) * share)).map(async (mine) => {
        // Each loop has its own connections, as each of our batches does.
        const conns = new Map(masters.map((m) => [m.address, connect(m.address, options.password)] as const));
        const source = conns.get(move.from.address)!;
        const target = conns.get(move.to.address)!;
        const { host, port } = splitAddress(move.to.address);
        let keysMoved = 0;
        let migrateCalls = 0;
        try {
          for (const slot of mine) {
            await target.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', move.from.id);
            await source.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', move.to.id);
            const getKeys = () => source.call('CLUSTER', 'GETKEYSINSLOT', String(slot), String(keysPer)) as Promise<string[]>;
            const migrate = [host, String(port), '', '0', '60000', 'AUTH', options.password, 'KEYS'];
            let keys = await getKeys();
            while (keys.length > 0) {
              if (asOurs) {
                await source.call('MIGRATE', ...migrate, ...keys);
                keysMoved += keys.length;
                keys = await getKeys();
              } else {
                // MIGRATE blocks the source until the target has the keys, so the GETKEYSINSLOT
                // pipelined behind it sees what is left: one round trip per batch of keys.
                const replies = (await source.pipeline().call('MIGRATE', ...migrate, ...keys).call('CLUSTER', 'GETKEYSINSLOT', String(slot), String(keysPer)).exec())!;
                for (const [err] of replies) if (err) throw new Error(`slot ${slot} ${move.from.address} -> ${move.to.address}: ${err.message}`);
                keysMoved += keys.length;
                keys = replies[1]![1] as string[];
              }
              migrateCalls++;
            }
            const assign = (c: Redis) => c.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', move.to.id);
            if (asOurs) {
              await assign(target);
              await assign(source);
              await Promise.all([...conns.values()].filter((c) => c !== source && c !== target).map(assign));
            } else {
              await Promise.all([...conns.values()].map(assign));
            }
          }
        } finally {
          for (const c of conns.values()) c.disconnect();
        }
        return { slots: mine.length, keysMoved, migrateCalls };
      });
    }),
  );
  return {
    plan,
    slotsMoved: counts.reduce((n, c) => n + c.slots, 0),
    keysMoved: counts.reduce((n, c) => n + c.keysMoved, 0),
    migrateCalls: counts.reduce((n, c) => n + c.migrateCalls, 0),
    ms: Date.now() - started,
  };
}

async function withConnection<T>(address: string, password: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = connect(address, password);
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/**
 * Our migrateSlots activity itself, called by a bare loop in this process (MockActivityEnvironment:
 * no Temporal server, no worker), in the workflow's rounds: one batch of `slotsPerBatch` slots per
 * pair, pairs in parallel, the next round once every pair's batch is done. Between this and the
 * floor: the activity's code; between this and the workflow: the orchestration.
 */
export async function activityLoop(seed: string, password: string, cluster: ClusterConfig, slotsPerBatch = 64): Promise<FloorResult> {
  const view = await withConnection(seed, password, async (r) => parseClusterNodes(String(await r.call('CLUSTER', 'NODES'))));
  const masters = view.filter((n) => n.role === 'master' && !n.flags.includes('fail')).map((n) => ({ id: n.id, address: n.address, slots: n.slots }));
  const plan = planRebalance(masters, { weights: {}, thresholdPercent: 2, useEmptyMasters: true });
  const { migrateSlots } = createMigrateActivities(() => new NodeConnector(cluster));
  const started = Date.now();
  const pairs = plan.moves.map((m) => ({ move: m, batches: batchSlots(m.slots, slotsPerBatch) }));
  let keysMoved = 0;
  for (let round = 0; pairs.some((p) => round < p.batches.length); round++) {
    const results = await Promise.all(
      pairs.filter((p) => round < p.batches.length).map(({ move, batches }) => {
        const others = masters.map((m) => m.address).filter((a) => a !== move.from.address && a !== move.to.address);
        return new MockActivityEnvironment().run(migrateSlots, 'bench', { from: move.from, to: move.to, slots: batches[round]!, others, keysPerMigrate: 1000 }) as Promise<MigrateResult>;
      }),
    );
    keysMoved += results.reduce((n, r) => n + r.keysMoved, 0);
  }
  return { plan, slotsMoved: plan.slotsToMove, keysMoved, migrateCalls: NaN, ms: Date.now() - started };
}
