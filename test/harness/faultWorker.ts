/** The worker as an operator runs it, plus the harness's fault interceptor (REDISFORGE_KILL_AT, see faults.ts). */
import { runMain } from '../../src/worker';
import { killAtInterceptor, parseKillAt } from './faults';

runMain({ activity: [killAtInterceptor(parseKillAt(process.env.REDISFORGE_KILL_AT))] });
