/**
 * Live progress from the `progress` query: a bar redrawn in place on a terminal, plain lines
 * (one per change) when the output is a file or a pipe.
 */
import type { Progress } from '../../shared';
import type { RunbookHandle } from '../sdk';

/** The first line of a Web UI detail, without its markdown. */
export function plainDetail(detail: string | undefined): string {
  return (detail ?? '').split('\n').find((l) => l.trim())?.replace(/\*\*|`/g, '').trim() ?? '';
}

export function progressFraction(p: Progress): number {
  if (p.state === 'succeeded') return 1;
  const m = p.migration;
  const inStep = m && m.slotsTotal > 0 ? m.slotsDone / m.slotsTotal : 0;
  return p.stepsTotal > 0 ? Math.min(1, (p.stepsDone + inStep) / p.stepsTotal) : 0;
}

export function progressBar(fraction: number, width = 20): string {
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%`;
}

function migrationText(p: Progress): string {
  const m = p.migration;
  if (!m) return '';
  const eta = m.etaSeconds !== undefined ? `, eta ${Math.ceil(m.etaSeconds)} s` : '';
  const state = m.aborting ? ', aborting' : m.paused ? ', PAUSED' : '';
  return ` [${m.slotsDone}/${m.slotsTotal} slots, ${m.keysMoved} keys, ${m.keysPerSecond} keys/s${eta}${m.maxKeysPerSecond ? `, max ${m.maxKeysPerSecond}/s` : ''}${state}]`;
}

/** "step 4/5 Move slots [120/5461 slots, ...] - detail": the one-line state of an operation. */
export function describeProgress(p: Progress): string {
  const step = p.state === 'running' ? `step ${Math.min(p.stepsDone + 1, p.stepsTotal)}/${p.stepsTotal} ${p.step}` : p.state;
  const detail = plainDetail(p.detail);
  return `${p.operation}${p.cluster ? ` ${p.cluster}` : ''}: ${step}${migrationText(p)}${detail ? ` - ${detail}` : ''}`;
}

export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
  columns: number;
}

/** How often a non-terminal gets a line while only the slot counts change. */
const PLAIN_MIGRATION_EVERY_MS = 5000;
/** How long the last progress query after the end may take. */
const FINAL_QUERY_MS = 2000;

export class ProgressPrinter {
  private lastKey = '';
  private lastStep = '';
  private lastPrinted = 0;
  private drawn = false;
  private hinted = false;

  constructor(
    private readonly sink: ProgressSink,
    private readonly workflowId: string,
  ) {}

  update(p: Progress): void {
    const key = `${p.state}|${p.step}|${plainDetail(p.detail)}`;
    const now = Date.now();
    if (this.sink.isTTY) {
      const line = `${progressBar(progressFraction(p))} ${describeProgress(p)}`;
      // A new step keeps the previous line on screen, so the steps read as a log.
      const prefix = this.drawn && p.step !== this.lastStep ? '\n' : '\r\x1b[2K';
      this.sink.write(`${prefix}${line.slice(0, Math.max(20, this.sink.columns - 1))}`);
      this.drawn = true;
    } else if (key !== this.lastKey || (p.migration && now - this.lastPrinted >= PLAIN_MIGRATION_EVERY_MS)) {
      this.sink.write(`${describeProgress(p)}\n`);
      this.lastPrinted = now;
    }
    this.lastKey = key;
    this.lastStep = p.step;
    if (!this.hinted && /approval needed/i.test(p.detail ?? '')) {
      this.hinted = true;
      this.line(`  -> waiting for approval: redisforge approve ${this.workflowId} --by <your name> [--reason <text>]`);
    }
  }

  /** A line that stays, printed below the live one. */
  line(text: string): void {
    this.sink.write(`${this.drawn ? '\n' : ''}${text}\n`);
    this.drawn = false;
  }

  end(): void {
    if (this.drawn) this.sink.write('\n');
    this.drawn = false;
  }
}

/**
 * Waits for the workflow's end while showing its progress; returns the result or throws the
 * failure. A query that fails (no worker yet, the run just continued as new) is skipped.
 */
export async function followToEnd<T>(handle: RunbookHandle, onProgress: (p: Progress) => void, pollMs = 500): Promise<T> {
  let done = false;
  let last = '';
  let wake: () => void = () => undefined;
  const show = (p: Progress | undefined) => {
    const key = JSON.stringify(p);
    if (p && key !== last) {
      last = key;
      onProgress(p);
    }
  };
  const poll = (async () => {
    while (!done) {
      const p = await handle.progress().catch(() => undefined);
      if (!done) show(p);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  let result: T;
  try {
    result = (await handle.result()) as T;
  } finally {
    done = true;
    wake();
    await poll;
  }
  // The final state ("succeeded", 100 %), which the polling may have missed; skipped if no worker answers soon.
  show(await handle.client.connection.withDeadline(Date.now() + FINAL_QUERY_MS, () => handle.progress()).catch(() => undefined));
  return result;
}
