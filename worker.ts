/**
 * The worker from the source tree: `npm run worker` (or `node --import tsx worker.ts`). The same
 * worker is `redisforge worker` in the package; its code is src/worker/.
 */
import { runMain } from './src/worker';

export * from './src/worker';

if (require.main === module) runMain();
