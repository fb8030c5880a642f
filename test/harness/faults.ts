/**
 * Fault injection that only the test harness installs: an activity interceptor that SIGKILLs the
 * worker at a chosen point, so production code carries no hooks. REDISFORGE_KILL_AT is a comma
 * list of `<activityType>:<nth>:<when>`, counting the calls of that activity in this worker:
 *   before       before the nth call starts (nothing of it happened)
 *   after        after the nth call's side effect, before its result reaches Temporal
 *   heartbeat<K> at the Kth heartbeat of the nth call (in the middle of it)
 */
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

export interface KillPoint {
  activity: string;
  nth: number;
  when: 'before' | 'after' | { heartbeat: number };
}

export function parseKillAt(spec: string | undefined): KillPoint[] {
  if (!spec) return [];
  return spec.split(',').map((part) => {
    const [activity, nth, when] = part.trim().split(':');
    const beat = /^heartbeat(\d+)$/.exec(when ?? '');
    if (!activity || !/^\d+$/.test(nth ?? '') || !(when === 'before' || when === 'after' || beat)) {
      throw new Error(`REDISFORGE_KILL_AT: "${part}" is not <activityType>:<nth>:before|after|heartbeat<K>`);
    }
    return { activity, nth: Number(nth), when: beat ? { heartbeat: Number(beat[1]) } : (when as 'before' | 'after') };
  });
}

function die(point: string): never {
  // Written before dying so a test's log says which point fired.
  process.stderr.write(`REDISFORGE_KILL_AT: killing the worker at ${point}\n`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

export function killAtInterceptor(points: KillPoint[]): ActivityInterceptorsFactory {
  const calls = new Map<string, number>();
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        const type = ctx.info.activityType;
        const mine = points.filter((p) => p.activity === type);
        if (mine.length === 0) return next(input);
        const nth = (calls.get(type) ?? 0) + 1;
        calls.set(type, nth);
        const now = mine.filter((p) => p.nth === nth);
        if (now.some((p) => p.when === 'before')) die(`${type}:${nth}:before`);
        const beatAt = now.map((p) => p.when).find((w): w is { heartbeat: number } => typeof w === 'object');
        if (beatAt) {
          // Test-only: count this call's heartbeats by wrapping the context's own heartbeat function.
          const holder = ctx as unknown as { heartbeatFn: (details?: unknown) => void };
          const original = holder.heartbeatFn;
          let beats = 0;
          holder.heartbeatFn = (details?: unknown) => {
            if (++beats === beatAt.heartbeat) die(`${type}:${nth}:heartbeat${beats}`);
            original(details);
          };
        }
        const result = await next(input);
        if (now.some((p) => p.when === 'after')) die(`${type}:${nth}:after`);
        return result;
      },
    },
  });
}
