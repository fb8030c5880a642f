import type { DevServer } from '../../src/client/devServer';
import type { CodecServer } from '../../src/codec';
import type { S3Server } from './s3Server';
import { SCRATCH_DIR } from './env';
import { killLeftoverNodes } from './nodes';
import type { WorkerProcess } from './worker';

export default async function globalTeardown(): Promise<void> {
  const handles = (globalThis as Record<string, unknown>).__redisforge as { server: DevServer; worker: WorkerProcess; s3?: S3Server; codecServer?: CodecServer } | undefined;
  await handles?.worker.stop();
  await handles?.server.stop();
  await handles?.s3?.stop();
  await handles?.codecServer?.stop();
  await killLeftoverNodes();
  await killLeftoverNodes(SCRATCH_DIR);
}
