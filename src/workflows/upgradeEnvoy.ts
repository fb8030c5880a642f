/**
 * Runbook: Upgrade Envoy (`./scripts/deploy.sh envoy`). The proxy container is recreated on the
 * new image with everything else kept (name, labels, command, mounts, env, host networking,
 * restart policy); once it is ready the previous container is removed, and when it does not get
 * ready in time the previous container is put back, and the upgrade fails saying so.
 */
import { ApplicationFailure, upsertSearchAttributes } from '@temporalio/workflow';
import { runbookOperationKey } from '../shared';
import { pollingWithin, proxyReplacementWithinFiveMinutes, redisCallsWithinAMinute } from './activityOptions';
import { surfaceActivityFailure } from './failures';
import { parseInput } from './inputChecks';
import { Operation } from './operation';
import { upgradeEnvoyInput } from './inputs';

export interface UpgradeEnvoyReport {
  proxy: string;
  container: string;
  dryRun: boolean;
  oldImage: string;
  newImage: string;
  /** False when the container already ran the new image. */
  changed: boolean;
  ready: boolean;
  /** Milliseconds from the new container's start to its first ready answer. */
  readyMs?: number;
  rolledBack: boolean;
  /** The last readiness answer. */
  readiness: string;
}

const STEPS = ['Check the proxy and the new image', 'Replace the container with the new image', 'Await readiness', 'Remove the previous container', 'Roll back to the previous image'] as const;

export async function upgradeEnvoy(rawInput: unknown): Promise<UpgradeEnvoyReport> {
  const op = new Operation('upgradeEnvoy', STEPS, { checks: 1 });
  return op.run(async () => {
    const input = parseInput(upgradeEnvoyInput, rawInput);
    const proxy = await redisCallsWithinAMinute.loadProxySpec(input.proxy).catch(surfaceActivityFailure);
    if (proxy.cluster) op.recordCluster(proxy.cluster);
    else upsertSearchAttributes([{ key: runbookOperationKey, value: 'upgradeEnvoy' }]);
    const wait = pollingWithin(input.timeoutSeconds);

    op.step(STEPS[0], `${proxy.name}: container ${proxy.container}, ${proxy.adminUrl ? `readiness at ${proxy.adminUrl}/ready` : `readiness by PING on ${proxy.address}`}`);
    const before = await redisCallsWithinAMinute.describeProxy(proxy.name, input.image).catch(surfaceActivityFailure);
    const report: UpgradeEnvoyReport = {
      proxy: proxy.name, container: proxy.container, dryRun: input.dryRun, oldImage: before.image, newImage: input.image,
      changed: before.image !== input.image, ready: before.ready, rolledBack: false, readiness: before.readiness,
    };
    if (input.dryRun) {
      op.finish('succeeded', `Dry run: ${proxy.container} runs ${before.image} (${before.ready ? 'ready' : 'not ready'}); it would be recreated on ${input.image}.`);
      return report;
    }
    op.step(STEPS[1], `${proxy.container}: ${before.image} -> ${input.image}`);
    const swap = await proxyReplacementWithinFiveMinutes.replaceProxyContainer(proxy.name, input.image).catch(surfaceActivityFailure);
    report.oldImage = swap.previousImage;
    report.changed = swap.changed;

    op.step(STEPS[2], `${proxy.container} on ${input.image}: up to ${input.timeoutSeconds} s`);
    const ready = await wait.awaitProxyReady(proxy.name, input.timeoutSeconds * 1000).catch(surfaceActivityFailure);
    report.readiness = ready.status;
    if (ready.ready) {
      op.step(STEPS[3]);
      await redisCallsWithinAMinute.removeReplacedProxy(proxy.name);
      report.ready = true;
      report.readyMs = ready.waitedMs;
      op.finish('succeeded', `${proxy.container}: ${report.oldImage} -> ${input.image}, ready after ${(ready.waitedMs / 1000).toFixed(1)} s.`);
      return report;
    }
    if (!swap.replacedName) {
      throw ApplicationFailure.create({ type: 'ProxyNotReady', nonRetryable: true, message: `${proxy.container} already ran ${input.image} but is not ready (${ready.status}); there is no previous container to roll back to`, details: [report] });
    }

    op.step(STEPS[4], `${input.image} not ready after ${input.timeoutSeconds} s (${ready.status}); back to ${swap.previousImage}`);
    await proxyReplacementWithinFiveMinutes.rollBackProxy(proxy.name, swap.replacedName).catch(surfaceActivityFailure);
    const back = await wait.awaitProxyReady(proxy.name, input.timeoutSeconds * 1000).catch(surfaceActivityFailure);
    report.rolledBack = true;
    report.ready = false;
    if (!back.ready) {
      throw ApplicationFailure.create({ type: 'ProxyDown', nonRetryable: true, message: `${proxy.container}: ${input.image} did not get ready (${ready.status}), and after the rollback ${swap.previousImage} is not ready either (${back.status}): clients cannot reach the cluster through ${proxy.address}`, details: [report] });
    }
    throw ApplicationFailure.create({
      type: 'ProxyRolledBack', nonRetryable: true,
      message: `${proxy.container}: ${input.image} did not get ready within ${input.timeoutSeconds} s (${ready.status}); rolled back to ${swap.previousImage}, which is ready again`,
      details: [report],
    });
  });
}
