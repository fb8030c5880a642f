/**
 * Stopping a server this process started (the embedded Temporal dev server, the test run's S3
 * server): SIGTERM, then SIGKILL when it has not exited after a grace period.
 */
import type { ChildProcess } from 'node:child_process';

export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
