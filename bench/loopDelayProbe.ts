/**
 * Loaded into the worker by bench/rebalance.ts --loop-delay (node --import): every 500 ms, the
 * main thread's event-loop delay (how late a ready callback ran) goes to LOOP_DELAY_FILE as one
 * JSON line with the monotonic time, so the bench can cut it to our move. The histogram's 1 ms
 * resolution is its floor: an idle loop reads about 1.1 ms.
 */
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const file = process.env.LOOP_DELAY_FILE;
// --import runs in the workflow threads too; the activities run on the main thread.
if (file && isMainThread) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  setInterval(() => {
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    appendFileSync(file, `${JSON.stringify({ at: String(process.hrtime.bigint()), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean) })}\n`);
    h.reset();
  }, 500).unref();
}
