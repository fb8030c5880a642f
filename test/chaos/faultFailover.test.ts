/**
 * failoverTest under the faults an operator meets, with the production default timeouts
 * (commandTimeoutMs 5000): cancelled after it stopped the master; a promotion that cannot happen
 * (the replica hangs); a node of another shard hung during the drill; the worker SIGKILLed after
 * each side-effecting step while a client writes. The referee: roles, the stopped master running
 * again, canary keys, acknowledged writes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CancelledFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { Progress } from '../../src/shared';
import type { FailoverTestReport } from '../../src/workflows/failoverTest';
import type { ClusterHealthResult } from '../../src/workflows/clusterHealth';
import { TestCluster, testClient, withRedis, workflowId } from '../harness/cluster';
import { TASK_QUEUE } from '../harness/env';
import { AckedWriter, describeWrites } from '../helpers/ackedWriter';
import { runThroughKills } from '../helpers/killChain';
import { progressReaches } from '../helpers/waitFor';

const name = 'fault-failover';
let cluster: TestCluster;
const stopped = new Set<number>();

beforeAll(async () => {
  cluster = await TestCluster.start(name);
});
afterEach(() => {
  for (const pid of stopped) process.kill(pid, 'SIGCONT');
  stopped.clear();
});
afterAll(async () => {
  await cluster?.destroy();
});

function startDrill(input: Record<string, unknown>, queue = TASK_QUEUE): Promise<WorkflowHandle> {
  return testClient().then((c) => c.workflow.start('failoverTest', { taskQueue: queue, workflowId: workflowId('fault-failover'), args: [{ cluster: name, ...input }] }));
}

/** Polls the progress query until the drill stopped its master and awaits the promotion. */
async function untilPromotionWait(handle: WorkflowHandle): Promise<Progress> {
  const progress = await progressReaches(handle, 'the drill to await the promotion', (p) => p.step === "Await a replica's promotion");
  expect(progress.step).toBe("Await a replica's promotion");
  return progress;
}

/** SIGSTOP: the node keeps its socket open and answers nothing, like a stuck host. */
function hang(address: string): void {
  const pid = cluster.pid(address);
  process.kill(pid, 'SIGSTOP');
  stopped.add(pid);
}

async function outcomeOf(handle: WorkflowHandle): Promise<{ report?: FailoverTestReport; failure?: Error & { type?: string; details?: unknown[] } }> {
  try {
    return { report: (await handle.result()) as FailoverTestReport };
  } catch (err) {
    if (err instanceof WorkflowFailedError) return { failure: err.cause as Error & { type?: string } };
    throw err;
  }
}

/** Canary keys left on the masters (a drill removes its own, also when it fails or is cancelled). */
async function canariesLeft(health: ClusterHealthResult): Promise<number> {
  const counts = await Promise.all(health.shards.map((s) => withRedis(s.master.address, async (r) => (await r.keys('redisforge:canary:*')).length)));
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * Healthy, and still so a few seconds later: a node back from a hang or a restart may flip its
 * own cluster_state (its rejoin delay, a stale fail flag) after the first healthy report.
 */
async function healthy(): Promise<ClusterHealthResult> {
  await cluster.healthUntil((r) => r.healthy, 60_000);
  await sleep(3000);
  return cluster.healthUntil((r) => r.healthy, 60_000);
}

test('cancelled right after it stopped the master: the master is started again and the cluster heals', async () => {
  const shard = (await cluster.health()).shards[0]!;
  const handle = await startDrill({ mode: 'kill', master: shard.master.address, failback: false });
  await untilPromotionWait(handle);
  await handle.cancel();
  const { failure } = await outcomeOf(handle);
  expect(failure).toBeInstanceOf(CancelledFailure);
  // A cancelled run carries no message: its history shows the restart, after the cancel request.
  const events = (await handle.fetchHistory()).events!;
  const cancelAt = events.findIndex((e) => e.workflowExecutionCancelRequestedEventAttributes);
  const restart = events.findIndex((e, i) => i > cancelAt && e.activityTaskScheduledEventAttributes?.activityType?.name === 'startNode');
  expect([cancelAt > 0, restart > cancelAt]).toEqual([true, true]);
  expect(events.some((e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId) === Number(events[restart]!.eventId))).toBe(true);
  expect(await cluster.runtime.status(shard.master.address)).toBe('running');
  const after = await healthy();
  expect(after.healthy).toBe(true);
  // Whoever holds the shard's slots now, the old master is one of its two nodes again.
  const now = after.shards.find((s) => s.slots === shard.slots)!;
  expect([now.master.id, ...now.replicas.map((r) => r.id)].sort()).toEqual([shard.master.id, shard.replicas[0]!.id].sort());
  expect(await canariesLeft(after)).toBe(0);
});

test('a promotion that cannot happen (the replica hangs): fails within its bound naming the replica; the master runs again', async () => {
  const shard = (await cluster.health()).shards[1]!;
  const replica = shard.replicas[0]!.address;
  const started = Date.now();
  const handle = await startDrill({ mode: 'kill', master: shard.master.address, failback: false, timeoutSeconds: 10 });
  await untilPromotionWait(handle);
  hang(replica);
  const { failure } = await outcomeOf(handle);
  console.log(`unpromotable drill failed after ${Date.now() - started} ms: ${failure?.message}`);
  expect(failure?.type).toBe('WaitTimedOut');
  expect(failure!.message).toContain(`a replica of ${shard.master.address} to be promoted`);
  expect(failure!.message).toContain(`no answer from ${replica}`);
  expect(failure!.message).toContain(`${shard.master.address}, which the drill had stopped, was started again`);
  expect((failure!.details?.[0] as FailoverTestReport).compensation).toContain('was started again');
  // The bound: the 10 s wait plus the activity's retry and start-up margins, far from the default 120 s.
  expect(Date.now() - started).toBeLessThan(60_000);
  expect(await cluster.runtime.status(shard.master.address)).toBe('running');

  process.kill(cluster.pid(replica), 'SIGCONT');
  stopped.clear();
  const after = await healthy();
  // Nobody took over: the master kept its slots.
  expect(after.shards.find((s) => s.slots === shard.slots)!.master.id).toBe(shard.master.id);
  expect(await canariesLeft(after)).toBe(0);
});

test('a replica of another shard hangs right after the master went down: the failover completes without it, the hung node is named, the master runs again', async () => {
  const [first, , third] = (await cluster.health()).shards;
  const hung = first!.replicas[0]!.address;
  const handle = await startDrill({ mode: 'kill', master: third!.master.address, failback: false, timeoutSeconds: 15 });
  await untilPromotionWait(handle);
  hang(hung);
  const { report, failure } = await outcomeOf(handle);
  console.log(report ? `finished: ${JSON.stringify(report.silentNodes)} ${JSON.stringify(report.timings)}` : `failed: ${failure?.message}`);
  if (report) {
    expect(report.silentNodes).toContain(hung);
  } else {
    // Only the last health check needs every node: the drill itself went through.
    expect(failure!.message).toContain(hung);
    expect(failure!.message).toContain(`the failover itself happened: ${third!.replicas[0]!.address} took over from ${third!.master.address}`);
    const partial = failure!.details?.[0] as FailoverTestReport;
    expect(partial.silentNodes).toContain(hung);
    expect(partial.canaries).toMatchObject({ acknowledged: true, lost: 0 });
    expect(partial.timings.linkUpMs).toBeGreaterThan(0);
  }
  expect(await cluster.runtime.status(third!.master.address)).toBe('running');
  const role = await withRedis(third!.master.address, async (r) => String(await r.call('ROLE')));
  expect(role.startsWith('slave')).toBe(true);

  process.kill(cluster.pid(hung), 'SIGCONT');
  stopped.clear();
  const after = await healthy();
  expect(after.shards.find((s) => s.slots === third!.slots)!.master.id).toBe(third!.replicas[0]!.id);
});

test('the worker SIGKILLed after each side-effecting step, a client writing throughout: a new worker finishes the drill, nothing lost', async () => {
  const before = await healthy();
  const shard = before.shards[1]!;
  const queue = 'redisforge-ops-fault-failover';
  const writer = AckedWriter.start(cluster.nodes[0]!, before.shards.map((s) => s.slots), 'acked-fault-failover');
  let report: FailoverTestReport;
  let attempts: Record<string, number[]>;
  try {
    const points = ['writeCanaries:1:after', 'stopNode:1:after', 'verifyCanaries:1:after', 'removeCanaries:1:after', 'startNode:1:after', 'failoverTo:1:after'];
    ({ result: report, attempts } = await runThroughKills<FailoverTestReport>(queue, points, () => startDrill({ mode: 'kill', master: shard.master.address, canaries: 200 }, queue)));
  } finally {
    const writes = await writer.stop();
    console.log(`fault-failover: the writer during the drill\n${describeWrites(writes)}`);
  }
  try {
    // Each step killed after its effect ran again, and found its work done.
    for (const step of ['writeCanaries', 'stopNode', 'verifyCanaries', 'removeCanaries', 'startNode', 'failoverTo']) expect([step, Math.max(...attempts[step]!)]).toEqual([step, 2]);
    expect(report.canaries).toMatchObject({ written: 200, acknowledged: true, lost: 0 });
    expect(report.failedBack).toBe(true);
    expect(report.healthyAfter).toBe(true);
    expect(report.after!.map((s) => [s.slots, s.master.id])).toEqual(before.shards.map((s) => [s.slots, s.master.id]));
    expect(report.timings.writeUnavailableMs).toBeGreaterThan(0);
    console.log(`fault-failover: the drill reports writes to ${shard.slots} unavailable for ${report.timings.writeUnavailableMs} ms`);
    expect(await writer.missingAcknowledged()).toEqual([]);
    // No canary left behind.
    expect(await canariesLeft(await cluster.health())).toBe(0);
  } finally {
    await writer.removeKeys();
    writer.disconnect();
  }
});
