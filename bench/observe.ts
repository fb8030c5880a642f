/**
 * What a bench sees while an operation runs: the memory of the worker it runs as a child
 * process, where a workflow run spent its time (its activities, from the recorded history),
 * and when the nodes themselves reached the states the workflow waits for.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import Redis from 'ioredis';
import { parseInfo } from '../src/cluster';

export interface RssPeak {
  /** Highest VmRSS seen, sampled every 100 ms. */
  sampledKb: number;
  /** VmHWM since the watch began (the kernel's exact peak); NaN when clear_refs cannot reset it. */
  hwmKb: number;
}

function statusField(pid: number, name: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`${name}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

/** Starts watching a process's RSS; the returned function stops and gives the peak since. */
export function watchRss(pid: number): () => RssPeak {
  let resetHwm = true;
  try {
    // "5" resets the peak RSS (VmHWM), so it covers this operation, not the worker's start.
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    resetHwm = false;
  }
  let sampledKb = statusField(pid, 'VmRSS');
  const timer = setInterval(() => (sampledKb = Math.max(sampledKb, statusField(pid, 'VmRSS'))), 100);
  return () => {
    clearInterval(timer);
    sampledKb = Math.max(sampledKb, statusField(pid, 'VmRSS'));
    return { sampledKb, hwmKb: resetHwm ? statusField(pid, 'VmHWM') : NaN };
  };
}

export interface ActivitySpans {
  activity: string;
  count: number;
  /** ms from the workflow's start: first scheduled, last closed. */
  fromMs: number;
  toMs: number;
  /** Longest wait between scheduled and started (task queue latency). */
  maxQueueMs: number;
}

type Timestamp = { seconds?: { toString(): string } | number | null; nanos?: number | null } | null | undefined;
const msOf = (ts: Timestamp) => Number(ts?.seconds?.toString() ?? 0) * 1000 + Math.floor((ts?.nanos ?? 0) / 1e6);

/** The activities of a finished run, one row per activity type, in the order first scheduled. */
export async function activityTimeline(client: Client, workflowId: string): Promise<ActivitySpans[]> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const start = msOf(events[0]?.eventTime);
  const scheduled = new Map<string, { activity: string; at: number; startedAt?: number }>();
  const rows = new Map<string, ActivitySpans>();
  for (const e of events) {
    const at = msOf(e.eventTime) - start;
    const id = e.eventId?.toString() ?? '';
    if (e.activityTaskScheduledEventAttributes) {
      const activity = e.activityTaskScheduledEventAttributes.activityType?.name ?? '?';
      scheduled.set(id, { activity, at });
      const row = rows.get(activity) ?? { activity, count: 0, fromMs: at, toMs: at, maxQueueMs: 0 };
      row.count++;
      rows.set(activity, row);
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const s = scheduled.get(started.scheduledEventId?.toString() ?? '');
      if (s) s.startedAt = at;
    }
    const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (closed) {
      const s = scheduled.get(closed.scheduledEventId?.toString() ?? '');
      const row = s && rows.get(s.activity);
      if (s && row) {
        row.toMs = Math.max(row.toMs, at);
        row.maxQueueMs = Math.max(row.maxQueueMs, (s.startedAt ?? at) - s.at);
      }
    }
  }
  return [...rows.values()];
}

export function formatTimeline(rows: ActivitySpans[]): string {
  const s = (ms: number) => (ms / 1000).toFixed(2);
  return rows.map((r) => `${r.activity}${r.count > 1 ? ` x${r.count}` : ''} ${s(r.fromMs)}-${s(r.toMs)}`).join(', ');
}

export interface RestartingNode {
  address: string;
  /** A master counts as loaded once its new process answers with loading:0. */
  role: 'master' | 'replica';
}

/** ms from the watch's start until every node reached each state, or undefined. */
export interface RestartEvents {
  mastersLoaded?: number;
  replicasLinked?: number;
  clusterOk?: number;
}

/**
 * Polls nodes every 100 ms while they are stopped and started again. Only a new process counts
 * (its run_id differs from the one answering when the watch began), so a node's state before the
 * restart is never mistaken for the result. The returned function stops the watch.
 */
export async function watchRestart(nodes: RestartingNode[], password: string): Promise<() => Promise<RestartEvents>> {
  const conns = nodes.map((n) => {
    const [host, port] = n.address.split(':');
    // Fail fast while the node is down and reconnect quickly: the times are what matters.
    const redis = new Redis({ host, port: Number(port), password, enableReadyCheck: false, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    redis.on('error', () => undefined);
    return redis;
  });
  // Every node answers now: the run ids to tell the restarted processes by.
  await Promise.all(conns.map((r) => r.status === 'ready' || new Promise((ok) => r.once('ready', ok))));
  const before = await Promise.all(conns.map(async (r) => parseInfo(await r.info('server')).server?.run_id));
  const started = Date.now();
  const firsts = nodes.map(() => ({ loaded: NaN, linked: NaN, ok: NaN }));
  let watching = true;
  const rounds = (async () => {
    while (watching) {
      await Promise.all(
        conns.map(async (r, i) => {
          const node = nodes[i]!;
          const first = firsts[i]!;
          const at = Date.now() - started;
          try {
            const info = parseInfo(await r.info());
            if (info.server?.run_id === before[i]) return;
            if (node.role === 'master' && Number.isNaN(first.loaded) && info.persistence?.loading === '0') first.loaded = at;
            if (node.role === 'replica' && Number.isNaN(first.linked) && info.replication?.master_link_status === 'up') first.linked = at;
            if (Number.isNaN(first.ok) && /cluster_state:ok/.test((await r.cluster('INFO')) as string)) first.ok = at;
          } catch {
            // down, starting or loading: not there yet
          }
        }),
      );
      await sleep(100);
    }
  })();
  const last = (times: number[]) => (times.some((t) => Number.isNaN(t)) ? undefined : Math.max(...times));
  return async () => {
    watching = false;
    await rounds;
    for (const r of conns) r.disconnect();
    return {
      mastersLoaded: last(nodes.flatMap((n, i) => (n.role === 'master' ? [firsts[i]!.loaded] : []))),
      replicasLinked: last(nodes.flatMap((n, i) => (n.role === 'replica' ? [firsts[i]!.linked] : []))),
      clusterOk: last(firsts.map((f) => f.ok)),
    };
  };
}
