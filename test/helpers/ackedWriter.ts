/**
 * A client writing the whole time an operation runs, as an application would: one loop per
 * shard, each write a new key, SET then WAIT 1 0 in one pipeline of an ioredis Cluster client
 * (so both reach the key's master). A write counts as acknowledged only when WAIT says a replica
 * has it; those must all be there afterwards. Failed writes are recorded as error windows.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { keyHashSlot, parseSlotRange, splitAddress } from '../../src/cluster';
import { within } from '../../src/util/polling';
import { password } from '../harness/cluster';

export interface ShardWriteReport {
  slots: string;
  attempted: number;
  acknowledged: number;
  errors: number;
  /** Periods from a failed write to the next acknowledged one. */
  errorWindows: { fromMs: number; toMs: number; errors: number }[];
  longestErrorWindowMs: number;
  /** The longest time between two acknowledged writes (a WAIT blocked while a replica restarts counts). */
  longestAckGapMs: number;
  sampleErrors: string[];
}

interface ShardState extends ShardWriteReport {
  tag: string;
  acked: string[];
  lastAckAt: number;
  openWindow?: { fromMs: number; errors: number };
}

/** A hash tag whose slot lies in `slots` ("0-5460"), so every key of the loop lands on that shard. */
function tagFor(slots: string): string {
  const ranges = slots.split(',').map((r) => parseSlotRange(r.trim()));
  for (let n = 0; ; n++) if (ranges.some((r) => keyHashSlot(`w${n}`) >= r.start && keyHashSlot(`w${n}`) <= r.end)) return `w${n}`;
}

export class AckedWriter {
  private running = true;
  private readonly started = Date.now();
  private readonly loops: Promise<void>[];
  private readonly shards: ShardState[];

  private constructor(
    private readonly cluster: Cluster,
    shardSlots: readonly string[],
    private readonly prefix: string,
    pauseMs: number,
  ) {
    this.shards = shardSlots.map((slots) => ({
      slots, tag: tagFor(slots), acked: [], lastAckAt: Date.now(), attempted: 0, acknowledged: 0, errors: 0, errorWindows: [], longestErrorWindowMs: 0, longestAckGapMs: 0, sampleErrors: [],
    }));
    this.loops = this.shards.map((s) => this.loop(s, pauseMs));
  }

  /** Starts one writing loop per shard (slot ranges as clusterHealth reports them). */
  static start(seed: string, shardSlots: readonly string[], prefix = 'acked', pauseMs = 5): AckedWriter {
    const { host, port } = splitAddress(seed);
    const cluster = new Cluster([{ host, port }], { redisOptions: { password: password() }, scaleReads: 'master', retryDelayOnFailover: 100, retryDelayOnClusterDown: 100 });
    cluster.on('error', () => undefined);
    return new AckedWriter(cluster, shardSlots, prefix, pauseMs);
  }

  private value(key: string): string {
    return `${key}@${this.started}`;
  }

  private async loop(s: ShardState, pauseMs: number): Promise<void> {
    while (this.running) {
      const key = `${this.prefix}:{${s.tag}}:${s.attempted++}`;
      let error: string | undefined;
      try {
        const results = (await this.cluster.pipeline().set(key, this.value(key)).wait(1, 0).exec()) ?? [];
        const failed = results.find(([err]) => err);
        if (failed) error = failed[0]!.message;
        else if (Number(results[1]?.[1]) < 1) error = 'WAIT returned 0';
      } catch (err) {
        error = (err as Error).message;
      }
      const now = Date.now();
      if (error === undefined) {
        s.acked.push(key);
        s.acknowledged++;
        s.longestAckGapMs = Math.max(s.longestAckGapMs, now - s.lastAckAt);
        s.lastAckAt = now;
        if (s.openWindow) {
          s.errorWindows.push({ fromMs: s.openWindow.fromMs, toMs: now - this.started, errors: s.openWindow.errors });
          s.longestErrorWindowMs = Math.max(s.longestErrorWindowMs, now - this.started - s.openWindow.fromMs);
          s.openWindow = undefined;
        }
      } else {
        s.errors++;
        if (s.sampleErrors.length < 5 && !s.sampleErrors.includes(error)) s.sampleErrors.push(error);
        s.openWindow ??= { fromMs: now - this.started, errors: 0 };
        s.openWindow.errors++;
        // A MOVED inside a pipeline is not followed by ioredis: learn the new owner, then go on.
        await new Promise<void>((resolve) => this.cluster.refreshSlotsCache(() => resolve()));
        await sleep(50);
      }
      await sleep(pauseMs);
    }
  }

  /** Stops the loops (each finishes its write in flight) and reports per shard. */
  async stop(): Promise<ShardWriteReport[]> {
    this.running = false;
    // A WAIT with no live replica blocks for good: after 30 s the connections are closed, which
    // ends it as a failed write (the test then fails on its missing acknowledgements).
    const ended = await within(Promise.all(this.loops).then(() => true), 30_000, false);
    if (!ended) {
      this.cluster.disconnect();
      await Promise.all(this.loops);
    }
    return this.shards.map(({ tag: _t, acked: _a, lastAckAt: _l, openWindow, ...report }) => ({
      ...report,
      errorWindows: openWindow ? [...report.errorWindows, { fromMs: openWindow.fromMs, toMs: Date.now() - this.started, errors: openWindow.errors }] : report.errorWindows,
    }));
  }

  /** Reads back every acknowledged write; returns the keys missing or changed. */
  async missingAcknowledged(): Promise<string[]> {
    const missing: string[] = [];
    for (const s of this.shards) {
      for (let i = 0; i < s.acked.length; i += 1000) {
        const keys = s.acked.slice(i, i + 1000);
        const pipeline = this.cluster.pipeline();
        for (const key of keys) pipeline.get(key);
        const results = (await pipeline.exec()) ?? [];
        results.forEach(([err, got], j) => {
          if (err || got !== this.value(keys[j]!)) missing.push(keys[j]!);
        });
      }
    }
    return missing;
  }

  /** Deletes every key the loops wrote (acknowledged or not), so a data digest compares as before. */
  async removeKeys(): Promise<void> {
    for (const s of this.shards) {
      for (let i = 0; i < s.attempted; i += 1000) {
        const pipeline = this.cluster.pipeline();
        for (let n = i; n < Math.min(i + 1000, s.attempted); n++) pipeline.del(`${this.prefix}:{${s.tag}}:${n}`);
        await pipeline.exec();
      }
    }
  }

  disconnect(): void {
    this.cluster.disconnect();
  }
}

/** One line per shard for the test log. */
export function describeWrites(reports: readonly ShardWriteReport[]): string {
  return reports
    .map((r) => `shard ${r.slots}: ${r.acknowledged}/${r.attempted} acknowledged, ${r.errors} errors in ${r.errorWindows.length} windows ` +
      `(longest ${r.longestErrorWindowMs} ms), longest gap between acks ${r.longestAckGapMs} ms${r.sampleErrors.length ? `; e.g. ${r.sampleErrors.join(' | ')}` : ''}`)
    .join('\n');
}
