import type { DevServer } from '../../src/client/devServer';
import { killLeftoverNodes } from './nodes';
import type { WorkerProcess } from './worker';

export default async function globalTeardown(): Promise<void> {
  const handles = (globalThis as Record<string, unknown>).__redisforge as { server: DevServer; worker: WorkerProcess } | undefined;
  await handles?.worker.stop();
  await handles?.server.stop();
  await killLeftoverNodes();
}
