/**
 * Where a rebalance spends its time, measured rather than guessed: the workflow's history (each
 * round of parallel migrateSlots activities, the queueing before each, the wait for the slowest
 * pair and the gap until the next round), the CPU each process used, the nodes' INFO
 * commandstats, and the worker's own CPU profile (node --cpu-prof) cut to the move.
 */
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import type { Client } from '@temporalio/client';
import Redis from 'ioredis';
import { parseInfo, splitAddress } from '../src/cluster';

type Timestamp = { seconds?: { toString(): string } | number | null; nanos?: number | null } | null | undefined;
const msOf = (ts: Timestamp) => Number(ts?.seconds?.toString() ?? 0) * 1000 + (ts?.nanos ?? 0) / 1e6;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** CPU time (user + system) of a process so far, in ms; 0 once it is gone. */
export function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime, fields 14 and 15 of stat(5), in clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

async function onNode<T>(address: string, password: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const { host, port } = splitAddress(address);
  const r = new Redis({ host, port, password, enableReadyCheck: false });
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export interface NodeStats {
  cpuMs: number;
  /** calls and server-side µs per command ("migrate", "cluster|setslot"...). */
  commands: Record<string, { calls: number; usec: number }>;
}

/** INFO cpu and commandstats of each node; `reset` clears the stats first (CONFIG RESETSTAT). */
export async function nodeStats(addresses: string[], password: string, reset = false): Promise<NodeStats[]> {
  return Promise.all(addresses.map((a) => onNode(a, password, async (r) => {
    if (reset) await r.call('CONFIG', 'RESETSTAT');
    const info = parseInfo(String(await r.call('INFO', 'everything')));
    const commands: NodeStats['commands'] = {};
    for (const [key, value] of Object.entries(info.commandstats ?? {})) {
      const calls = Number(/calls=(\d+)/.exec(value)?.[1] ?? 0);
      const usec = Number(/usec=(\d+)/.exec(value)?.[1] ?? 0);
      commands[key.replace(/^cmdstat_/, '')] = { calls, usec };
    }
    const cpu = info.cpu ?? {};
    return { cpuMs: (Number(cpu.used_cpu_user ?? 0) + Number(cpu.used_cpu_sys ?? 0)) * 1000, commands };
  })));
}

/** The commands of the nodes together, most server time first, from stats taken after a reset. */
export function formatCommandStats(stats: NodeStats[]): string {
  const total: Record<string, { calls: number; usec: number }> = {};
  for (const n of stats) for (const [cmd, c] of Object.entries(n.commands)) {
    const t = (total[cmd] ??= { calls: 0, usec: 0 });
    t.calls += c.calls;
    t.usec += c.usec;
  }
  return Object.entries(total).sort((a, b) => b[1].usec - a[1].usec).slice(0, 8)
    .map(([cmd, c]) => `${cmd} ${c.calls} calls ${s(c.usec / 1000)} (${Math.round(c.usec / c.calls)} µs/call)`).join(', ');
}

/** The rebalance run's history: what came before the move, each round of migrateSlots, what came after. */
export async function migrationBreakdown(client: Client, workflowId: string): Promise<string[]> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const start = msOf(events[0]?.eventTime);
  const end = msOf(events.at(-1)?.eventTime) - start;
  type Task = { type: string; round: string; scheduled: number; started?: number; closed?: number };
  const tasks = new Map<string, Task>();
  for (const e of events) {
    const at = msOf(e.eventTime) - start;
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) tasks.set(String(e.eventId), { type: scheduled.activityType?.name ?? '?', round: String(scheduled.workflowTaskCompletedEventId), scheduled: at });
    const started = e.activityTaskStartedEventAttributes;
    if (started) tasks.get(String(started.scheduledEventId))!.started = at;
    const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (closed) tasks.get(String(closed.scheduledEventId))!.closed = at;
  }
  const all = [...tasks.values()];
  const moves = all.filter((t) => t.type === 'migrateSlots');
  const rounds = [...new Set(moves.map((t) => t.round))].map((r) => moves.filter((t) => t.round === r));
  const firstMove = Math.min(...moves.map((t) => t.scheduled));
  const lastMove = Math.max(...moves.map((t) => t.closed ?? end));
  const before = all.filter((t) => t.scheduled < firstMove);
  const after = all.filter((t) => t.scheduled >= lastMove);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const mean = (xs: number[]) => (xs.length ? sum(xs) / xs.length : 0);
  const queue = mean(rounds.map((r) => mean(r.map((t) => (t.started ?? 0) - t.scheduled))));
  const running = mean(rounds.map((r) => mean(r.map((t) => (t.closed ?? 0) - (t.started ?? 0)))));
  const roundMs = rounds.map((r) => Math.max(...r.map((t) => t.closed ?? 0)) - r[0]!.scheduled);
  const slowest = mean(rounds.map((r) => Math.max(...r.map((t) => (t.closed ?? 0) - (t.started ?? 0)))));
  const gaps = rounds.slice(1).map((r, i) => r[0]!.scheduled - Math.max(...rounds[i]!.map((t) => t.closed ?? 0)));
  const list = (ts: Task[]) => ts.map((t) => `${t.type} ${s((t.closed ?? end) - t.scheduled)}`).join(', ');
  return [
    `workflow ${s(end)} in ${events.length} events: before the move ${s(firstMove)} (${list(before)}); moving ${s(lastMove - firstMove)}; after ${s(end - lastMove)} (${list(after)})`,
    `moving: ${rounds.length} rounds of ${moves.length / rounds.length} parallel migrateSlots, ${Math.round(mean(roundMs))} ms a round (sum ${s(sum(roundMs))}); ` +
      `in a round: queued ${Math.round(queue)} ms, an activity runs ${Math.round(running)} ms, the slowest ${Math.round(slowest)} ms (the others wait ${Math.round(slowest - running)} ms at the barrier); ` +
      `between rounds ${Math.round(mean(gaps))} ms (sum ${s(sum(gaps))})`,
  ];
}

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; samples?: number[]; timeDeltas?: number[] }

/** This process's own CPU profile over `fn` (inspector's Profiler, sampling every 1 ms as --cpu-prof does). */
export async function profiled<T>(fn: () => Promise<T>): Promise<{ value: T; profile: CpuProfile; fromNs: bigint; toNs: bigint }> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((ok, fail) => session.post(method, params ?? {}, (err, res) => (err ? fail(err) : ok(res))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 1000 });
  await post('Profiler.start');
  const fromNs = process.hrtime.bigint();
  const value = await fn();
  const toNs = process.hrtime.bigint();
  const { profile } = (await post('Profiler.stop')) as { profile: CpuProfile };
  session.disconnect();
  return { value, profile, fromNs, toNs };
}

/**
 * Self time of a .cpuprofile within [fromNs, toNs] of the monotonic clock (process.hrtime's, which
 * V8's profile timestamps share on Linux), by package and by function.
 */
export function summarizeCpuProfile(file: string | CpuProfile, fromNs: bigint, toNs: bigint, what = 'worker'): string[] {
  const profile = typeof file === 'string' ? (JSON.parse(readFileSync(file, 'utf8')) as CpuProfile) : file;
  const byId = new Map(profile.nodes.map((n) => [n.id, n] as const));
  const fromUs = Number(fromNs / 1000n);
  const toUs = Number(toNs / 1000n);
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  let inWindow = 0;
  (profile.samples ?? []).forEach((id, i) => {
    const delta = profile.timeDeltas![i]!;
    t += delta;
    if (t < fromUs || t > toUs) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    inWindow += delta;
  });
  const where = (n: ProfileNode) => {
    const url = n.callFrame.url;
    if (!url) return n.callFrame.functionName || '(native)';
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
    return pkg ?? (url.startsWith('node:') ? 'node internals' : url.includes('/src/') ? `ours ${url.slice(url.indexOf('/src/') + 1)}` : url);
  };
  const group = (key: (n: ProfileNode) => string) => {
    const totals = new Map<string, number>();
    for (const [id, us] of selfUs) totals.set(key(byId.get(id)!), (totals.get(key(byId.get(id)!)) ?? 0) + us);
    return [...totals].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, us]) => `${k} ${Math.round(us / 1000)} ms (${Math.round((us * 100) / inWindow)}%)`).join(', ');
  };
  return [
    `${what} CPU profile over the move (${Math.round((toUs - fromUs) / 1000)} ms wall, ${Math.round(inWindow / 1000)} ms sampled)`,
    `  by package: ${group(where)}`,
    `  by function: ${group((n) => `${n.callFrame.functionName || '(anonymous)'} [${where(n)}:${n.callFrame.lineNumber + 1}]`)}`,
  ];
}

/** The worker's event-loop delay (loopDelayProbe.ts's samples) within [fromNs, toNs]. */
export function loopDelayOver(file: string, fromNs: bigint, toNs: bigint): string {
  const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { at: string; p50: number; p99: number; max: number; mean: number })
    .filter((r) => BigInt(r.at) >= fromNs && BigInt(r.at) <= toNs);
  const sorted = (k: 'p50' | 'p99' | 'max' | 'mean') => rows.map((r) => r[k]).sort((a, b) => a - b);
  const median = (xs: number[]) => xs[Math.floor(xs.length / 2)] ?? NaN;
  return `ours: worker event-loop delay over the move, ${rows.length} windows of 500 ms: mean ${median(sorted('mean'))} ms, p50 ${median(sorted('p50'))} ms, p99 ${median(sorted('p99'))} ms (medians of the windows); worst window max ${sorted('max').at(-1)} ms`;
}
