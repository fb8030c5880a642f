/**
 * Starts a runbook workflow and follows it to the end: `redisforge start <type> --input <json> --wait`.
 *
 *   tsx src/client/follow.ts <workflowType> '<json input>'
 *
 * Exit codes: 0 succeeded, 1 the procedure failed, 2 bad usage or input, 3 Temporal unreachable.
 */
import type { Client } from '@temporalio/client';
import type { Progress } from '../workflows/definitions';
import { runCli } from './cli/program';
import { followToEnd } from './cli/progress';
import { isRunbookWorkflow, startRunbookWorkflow } from './sdk';

export interface FollowOptions {
  workflowId?: string;
  /** Called whenever the progress changes. */
  onProgress?: (p: Progress) => void;
  /** @default 500 */
  pollMs?: number;
}

/** Starts a workflow (its input checked first) and waits for its result, reporting progress. */
export async function startAndFollow<T>(client: Client, type: string, input: Record<string, unknown>, options: FollowOptions = {}): Promise<{ workflowId: string; result: T }> {
  if (!isRunbookWorkflow(type)) throw new Error(`unknown workflow type "${type}"`);
  const handle = await startRunbookWorkflow(client, type, input as never, { workflowId: options.workflowId });
  const result = await followToEnd<T>(handle, (p) => options.onProgress?.(p), options.pollMs);
  return { workflowId: handle.workflowId, result };
}

if (require.main === module) {
  const [type, json] = process.argv.slice(2);
  const argv = type && json ? ['start', type, '--input', json, '--wait'] : ['start', '--help'];
  runCli(argv).then(
    (code) => process.exit(type && json ? code : 2),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
