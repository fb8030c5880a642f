/**
 * Starts a runbook workflow and follows it: one line per step from the progress query, then the
 * result. What scripts/scale.sh (and later the redisforge CLI) run.
 *
 *   tsx src/client/follow.ts <workflowType> '<json input>'
 *
 * Exit codes: 0 succeeded, 1 the procedure failed, 2 bad usage or input, 3 Temporal unreachable.
 */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { connectClient, TASK_QUEUE } from './connection';
import { progressQuery, type Progress } from '../workflows/definitions';

export interface FollowOptions {
  workflowId?: string;
  /** Called whenever the progress changes. */
  onProgress?: (p: Progress) => void;
  /** @default 500 */
  pollMs?: number;
}

export async function startAndFollow<T>(client: Client, type: string, input: Record<string, unknown>, options: FollowOptions = {}): Promise<{ workflowId: string; result: T }> {
  const workflowId = options.workflowId ?? `${type}-${String(input.cluster ?? 'cluster')}-${Date.now()}`;
  const handle = await client.workflow.start(type, { taskQueue: TASK_QUEUE, workflowId, args: [input] });
  let last = '';
  let done = false;
  const poll = (async () => {
    while (!done) {
      const p = await handle.query(progressQuery).catch(() => undefined);
      const key = JSON.stringify(p);
      if (p && key !== last) {
        last = key;
        options.onProgress?.(p);
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
    }
  })();
  try {
    return { workflowId, result: (await handle.result()) as T };
  } finally {
    done = true;
    await poll;
  }
}

function describe(p: Progress): string {
  const m = p.migration;
  const work = m ? ` [${m.slotsDone}/${m.slotsTotal} slots, ${m.keysMoved} keys, ${m.keysPerSecond} keys/s${m.paused ? ', paused' : ''}]` : '';
  return `${p.operation}: step ${Math.min(p.stepsDone + 1, p.stepsTotal)}/${p.stepsTotal} ${p.step}${work}${p.detail && !m ? ` - ${p.detail}` : ''}`;
}

async function main(): Promise<number> {
  const [type, json] = process.argv.slice(2);
  if (!type || !json) {
    console.error("usage: follow.ts <workflowType> '<json input>'");
    return 2;
  }
  let input: Record<string, unknown>;
  try {
    input = JSON.parse(json) as Record<string, unknown>;
  } catch (err) {
    console.error(`input is not JSON: ${(err as Error).message}`);
    return 2;
  }
  let client: Client;
  try {
    client = await connectClient();
  } catch (err) {
    console.error(`cannot reach Temporal (${(err as Error).message}); set TEMPORAL_ADDRESS or start the server (npm run demo -- --keep)`);
    return 3;
  }
  try {
    const { workflowId, result } = await startAndFollow(client, type, input, { onProgress: (p) => console.log(describe(p)) });
    console.log(JSON.stringify(result, null, 2));
    console.error(`${type} ${workflowId}: succeeded`);
    return 0;
  } catch (err) {
    const cause = err instanceof WorkflowFailedError ? err.cause : err;
    const type_ = cause instanceof ApplicationFailure ? cause.type : undefined;
    console.error(`${type} failed${type_ ? ` (${type_})` : ''}: ${(cause as Error).message}`);
    return type_ === 'InvalidInput' ? 2 : 1;
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
