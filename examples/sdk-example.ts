/**
 * Using the RedisForge client SDK from another service: copy this file, adjust the import
 * path (in this repository: ../src/client), and run it:
 *
 *   TEMPORAL_ADDRESS=127.0.0.1:7233 npx tsx examples/sdk-example.ts main
 *
 * The cluster comes from argv[2], else $REDISFORGE_CLUSTER, else "main". The connection is
 * configured like the Temporal CLI's (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TLS variables, profiles).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError } from '@temporalio/client';
import { connectClient, executeClusterHealth, InvalidInputError, startRebalance } from '../src/client';

async function main(): Promise<number> {
  const cluster = process.argv[2] ?? process.env.REDISFORGE_CLUSTER ?? 'main';
  const client = await connectClient();
  try {
    // Short procedures: run to the end, the report is typed (ClusterHealthResult).
    const health = await executeClusterHealth(client, { cluster });
    console.log(`cluster ${health.cluster}: ${health.healthy ? 'healthy' : 'NOT healthy'}, ${health.summary.masters} masters, ${health.summary.slotsCovered}/16384 slots served`);
    for (const f of health.findings) console.log(`  ${f.severity} ${f.code}: ${f.message}`);

    // Long procedures: start, then follow through the handle (progress, pause, abort, approve...).
    const rebalance = await startRebalance(client, { cluster, dryRun: true });
    console.log(`started ${rebalance.workflowId}`);
    const result = rebalance.result();
    let last = '';
    for (let finished = false; !finished; ) {
      finished = await Promise.race([result.then(() => true, () => true), sleep(250).then(() => false)]);
      // No answer until a worker has picked the run up: skip that round.
      const p = await rebalance.progress().catch(() => undefined);
      const line = p && `  progress: step ${Math.min(p.stepsDone + 1, p.stepsTotal)}/${p.stepsTotal} ${p.step} (${p.state})`;
      if (line && line !== last) console.log((last = line));
    }
    const report = await result;
    console.log(`dry run: ${report.plan.slotsToMove} slots would move in ${report.plan.moves.length} moves`);
    return health.healthy ? 0 : 1;
  } catch (err) {
    // A bad input is refused before anything starts, naming each field.
    if (err instanceof InvalidInputError) console.error(err.problems.join('\n'));
    // A failed workflow carries its failure type (InvalidInput, ClusterBusy, PreflightFailed...).
    else if (err instanceof WorkflowFailedError) console.error(`failed: ${err.cause?.message ?? err.message}`);
    else throw err;
    return 1;
  } finally {
    await client.connection.close();
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
