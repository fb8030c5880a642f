/**
 * What a bench sees of the worker it runs as a child process: its memory while an operation
 * runs, and where a workflow run spent its time (its activities, from the recorded history).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';

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
