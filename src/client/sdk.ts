/**
 * The typed client SDK: start or run any runbook workflow with its input checked here first
 * (the same zod schema the workflow applies), and steer it through a handle whose progress,
 * approve, pause, resume, abort and result are typed per workflow.
 *
 *   const client = await connectClient();
 *   const run = await startRebalance(client, { cluster: 'main', dryRun: true });
 *   console.log(await run.progress(), await run.result());
 */
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import type { z } from 'zod';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatIssues } from '../validation';
import { within } from '../util/polling';
import {
  abortUpdate, approveUpdate, pauseUpdate, progressQuery, redisClusterKey, resumeUpdate, runbookOperationKey, throttleUpdate, type Progress,
} from '../shared';
import {
  addNodeInput, backupClusterInput, clusterHealthInput, createClusterInput, failoverTestInput, rebalanceInput, removeNodeInput, repairClusterInput,
  restoreClusterInput, routingCheckInput, upgradeEnvoyInput, upgradeRedisInput, verifyBackupInput,
} from '../workflows/inputs';
import { configureAclInput, rotateCredentialsInput } from '../workflows/aclInputs';
import { childWorkflowId } from '../workflows/childWorkflowIds';
import { HANDLED_MESSAGES, handlesMessage, SLOT_MOVING_CHILD, workflowsHandling, type OperatorMessage, type WorkflowsHandling } from '../workflows/operatorMessages';
import type { ConfigureAclReport } from '../workflows/configureAcl';
import type { RotateCredentialsReport } from '../workflows/rotateCredentials';
import type { AddNodeReport } from '../workflows/addNode';
import type { BackupReport } from '../workflows/backupCluster';
import type { ClusterHealthResult } from '../workflows/clusterHealth';
import type { CreateClusterResult } from '../workflows/createCluster';
import type { FailoverTestReport } from '../workflows/failoverTest';
import type { RebalanceReport } from '../workflows/rebalance';
import type { RemoveNodeReport } from '../workflows/removeNode';
import type { RepairReport } from '../workflows/repairCluster';
import type { RestoreReport } from '../workflows/restoreCluster';
import type { RoutingCheckReport } from '../workflows/routingCheck';
import type { UpgradeEnvoyReport } from '../workflows/upgradeEnvoy';
import type { UpgradeRedisReport } from '../workflows/upgradeRedis';
import type { VerifyBackupReport } from '../workflows/verifyBackup';
import { TASK_QUEUE } from './connection';

export type { Approval, MigrationProgress, Progress } from '../shared';

/** Every runbook workflow by its public type name, with the schema of its one input. */
export const inputSchemas = {
  clusterHealth: clusterHealthInput,
  createCluster: createClusterInput,
  failoverTest: failoverTestInput,
  addNode: addNodeInput,
  removeNode: removeNodeInput,
  rebalance: rebalanceInput,
  backupCluster: backupClusterInput,
  restoreCluster: restoreClusterInput,
  verifyBackup: verifyBackupInput,
  repairCluster: repairClusterInput,
  routingCheck: routingCheckInput,
  upgradeRedis: upgradeRedisInput,
  upgradeEnvoy: upgradeEnvoyInput,
  configureAcl: configureAclInput,
  rotateCredentials: rotateCredentialsInput,
} as const;

interface Results {
  clusterHealth: ClusterHealthResult;
  createCluster: CreateClusterResult;
  failoverTest: FailoverTestReport;
  addNode: AddNodeReport;
  removeNode: RemoveNodeReport;
  rebalance: RebalanceReport;
  backupCluster: BackupReport;
  restoreCluster: RestoreReport;
  verifyBackup: VerifyBackupReport;
  repairCluster: RepairReport;
  routingCheck: RoutingCheckReport;
  upgradeRedis: UpgradeRedisReport;
  upgradeEnvoy: UpgradeEnvoyReport;
  configureAcl: ConfigureAclReport;
  rotateCredentials: RotateCredentialsReport;
}

export type RunbookWorkflow = keyof typeof inputSchemas;
/** What a workflow accepts: optional fields may be left out, the workflow fills in the defaults. */
export type InputOf<W extends RunbookWorkflow> = z.input<(typeof inputSchemas)[W]>;
export type ResultOf<W extends RunbookWorkflow> = Results[W];

export function isRunbookWorkflow(type: string): type is RunbookWorkflow {
  return Object.hasOwn(inputSchemas, type);
}

// The workflows' table of the messages they handle names exactly the workflows this SDK starts.
HANDLED_MESSAGES satisfies Record<RunbookWorkflow, readonly OperatorMessage[]>;
inputSchemas satisfies Record<keyof typeof HANDLED_MESSAGES, z.ZodType>;

/** Workflows with a gate the `approve` update opens. */
export type ApprovableWorkflow = WorkflowsHandling<'approve'>;
export const APPROVABLE: readonly RunbookWorkflow[] = workflowsHandling('approve');
type Control = Exclude<OperatorMessage, 'approve'>;

/** A bad input, caught before anything was started: one line per problem, named by field. */
export class InvalidInputError extends Error {
  override readonly name = 'InvalidInputError';
  constructor(
    readonly workflowType: string,
    readonly problems: string[],
  ) {
    super(`invalid input for ${workflowType}: ${problems.join('; ')}`);
  }
}

/** An operation the workflow does not offer, e.g. approving a health check. */
export class UnsupportedOperationError extends Error {
  override readonly name = 'UnsupportedOperationError';
}

/** Checks an input with the workflow's own schema; throws InvalidInputError naming every bad field. */
export function validateInput<W extends RunbookWorkflow>(type: W, input: unknown): InputOf<W> {
  const parsed = inputSchemas[type].safeParse(input);
  if (!parsed.success) throw new InvalidInputError(type, formatIssues(parsed.error));
  return input as InputOf<W>;
}

export interface StartOptions {
  /** @default "<type>-<cluster>-<UTC timestamp>", e.g. "rebalance-main-20261127T031500123Z" (the proxy for upgradeEnvoy) */
  workflowId?: string;
  /** @default "redisforge-ops" */
  taskQueue?: string;
  /** One line shown in the Web UI's list. @default "<type> on cluster <cluster>", plus " (dry run)" */
  summary?: string;
  /** Check the input here before starting. @default true */
  validate?: boolean;
}

/** What an input is about: its cluster, or for upgradeEnvoy its proxy. */
export function targetOf(input: unknown): { cluster?: string; proxy?: string } {
  const o = (input ?? {}) as { cluster?: unknown; proxy?: unknown };
  return { cluster: typeof o.cluster === 'string' ? o.cluster : undefined, proxy: typeof o.proxy === 'string' ? o.proxy : undefined };
}

export function defaultWorkflowId(type: string, input: unknown, now = new Date()): string {
  const { cluster, proxy } = targetOf(input);
  return `${type}-${cluster ?? proxy ?? 'cluster'}-${now.toISOString().replace(/[-:.]/g, '')}`;
}

export function defaultSummary(type: string, input: unknown): string {
  const { cluster, proxy } = targetOf(input);
  const dryRun = (input as { dryRun?: unknown } | undefined)?.dryRun === true;
  return `${type} on ${cluster ? `cluster ${cluster}` : `proxy ${proxy ?? '?'}`}${dryRun ? ' (dry run)' : ''}`;
}

/**
 * How a wait for a started workflow's checks ended (RunbookHandle.untilChecked): `checked`, it
 * passed validation and preflight and goes on; `ended`, it closed first (result() says how);
 * `timedOut`, neither within the time given (no worker polling its task queue, or a long check).
 */
export type CheckOutcome = { outcome: 'checked'; progress: Progress } | { outcome: 'ended' } | { outcome: 'timedOut'; progress?: Progress };

/** A started runbook workflow. `type` is known when it was started here or looked up with `attach`. */
export class RunbookHandle<W extends RunbookWorkflow = RunbookWorkflow> {
  constructor(
    readonly client: Client,
    readonly workflow: WorkflowHandle,
    readonly type?: W,
  ) {}

  get workflowId(): string {
    return this.workflow.workflowId;
  }

  /** Where the workflow is: its step, and slot moves for operations that move slots. */
  progress(): Promise<Progress> {
    return this.workflow.query(progressQuery);
  }

  /**
   * Waits until the workflow has passed its input validation and preflight checks (its progress
   * says `checked`) or has ended, whichever comes first, at most `timeoutMs`. A caller that starts
   * a long procedure and returns learns here whether it was refused.
   */
  async untilChecked({ timeoutMs = 120_000, everyMs = 200 }: { timeoutMs?: number; everyMs?: number } = {}): Promise<CheckOutcome> {
    const deadline = Date.now() + timeoutMs;
    let last: Progress | undefined;
    for (;;) {
      const { status } = await this.workflow.describe();
      if (status.name !== 'RUNNING') return { outcome: 'ended' };
      // No answer until a worker has run the first workflow task: asked again next round.
      last = (await within(this.progress().catch(() => undefined), 5_000, undefined)) ?? last;
      if (last?.checked) return { outcome: 'checked', progress: last };
      if (Date.now() >= deadline) return { outcome: 'timedOut', progress: last };
      await sleep(Math.min(everyMs, Math.max(deadline - Date.now(), 1)));
    }
  }

  /** Opens the approval gate of an APPROVABLE workflow (removeNode, restoreCluster...); recorded in the history. */
  async approve(by: string, reason?: string): Promise<string> {
    if (this.type && !APPROVABLE.includes(this.type)) {
      throw new UnsupportedOperationError(`${this.type} has no approval step; ${APPROVABLE.join(', ')} wait for one`);
    }
    return this.workflow.executeUpdate(approveUpdate, { args: [{ by, ...(reason ? { reason } : {}) }] });
  }

  /**
   * Holds slot moves (rebalance, addNode, removeNode) or shard upgrades (upgradeRedis) after the
   * current batch. Like every control it is an update: the workflow's answer comes back, and a
   * control that does not apply now is refused (WorkflowUpdateFailedError, with the reason).
   */
  async pause(): Promise<string> {
    return (await this.controlTarget('pause')).executeUpdate(pauseUpdate);
  }

  async resume(): Promise<string> {
    return (await this.controlTarget('resume')).executeUpdate(resumeUpdate);
  }

  /** Stops after the work in flight, leaving no slot open; at an approval gate, declines. */
  async abort(reason?: string): Promise<string> {
    return (await this.controlTarget('abort')).executeUpdate(abortUpdate, { args: [reason ? { reason } : {}] });
  }

  /** Limits the keys moved per second; null lifts the limit. */
  async throttle(maxKeysPerSecond: number | null): Promise<string> {
    return (await this.controlTarget('throttle')).executeUpdate(throttleUpdate, { args: [{ maxKeysPerSecond }] });
  }

  /** Waits for the end: the report, or a WorkflowFailedError whose cause names the failure type. */
  result(): Promise<ResultOf<W>> {
    return this.workflow.result() as Promise<ResultOf<W>>;
  }

  /** The workflow's type decides where a control goes: its own handler, or the rebalance child moving its slots now. */
  private async controlTarget(control: Control): Promise<WorkflowHandle> {
    if (!this.type || this.type === 'rebalance') return this.workflow;
    const purpose = Object.hasOwn(SLOT_MOVING_CHILD, this.type) ? SLOT_MOVING_CHILD[this.type as keyof typeof SLOT_MOVING_CHILD] : undefined;
    const childId = purpose && childWorkflowId(this.workflowId, purpose);
    if (childId && handlesMessage('rebalance', control)) {
      const child = this.client.workflow.getHandle(childId);
      const running = await child.describe().then((d) => d.status.name === 'RUNNING', (err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      });
      if (running) return child;
    }
    if (handlesMessage(this.type, control)) return this.workflow;
    if (childId) throw new UnsupportedOperationError(`${this.type} ${this.workflowId} is not moving slots now; ${control} acts on its rebalance step (${childId}) only`);
    throw new UnsupportedOperationError(`${this.type} does not take ${control}; ${[...workflowsHandling(control), ...Object.keys(SLOT_MOVING_CHILD)].join(', ')} do`);
  }
}

/** Starts a runbook workflow by type name; the input is checked first unless `validate: false`. */
export async function startRunbookWorkflow<W extends RunbookWorkflow>(client: Client, type: W, input: InputOf<W>, options: StartOptions = {}): Promise<RunbookHandle<W>> {
  if (options.validate !== false) validateInput(type, input);
  const { cluster } = targetOf(input);
  const searchAttributes: SearchAttributePair[] = [{ key: runbookOperationKey, value: type }, ...(cluster ? [{ key: redisClusterKey, value: cluster }] : [])];
  const workflow = await client.workflow.start(type, {
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    workflowId: options.workflowId ?? defaultWorkflowId(type, input),
    args: [input],
    staticSummary: options.summary ?? defaultSummary(type, input),
    typedSearchAttributes: searchAttributes,
  });
  return new RunbookHandle(client, workflow, type);
}

export async function executeRunbookWorkflow<W extends RunbookWorkflow>(client: Client, type: W, input: InputOf<W>, options?: StartOptions): Promise<ResultOf<W>> {
  return (await startRunbookWorkflow(client, type, input, options)).result();
}

/** A handle on a workflow started elsewhere (CLI, Web UI, Schedule); its type is read from Temporal. */
export async function attachRunbookWorkflow(client: Client, workflowId: string): Promise<RunbookHandle> {
  const workflow = client.workflow.getHandle(workflowId);
  const { type } = await workflow.describe();
  return new RunbookHandle(client, workflow, isRunbookWorkflow(type) ? type : undefined);
}

type Starter<W extends RunbookWorkflow> = (client: Client, input: InputOf<W>, options?: StartOptions) => Promise<RunbookHandle<W>>;
type Executor<W extends RunbookWorkflow> = (client: Client, input: InputOf<W>, options?: StartOptions) => Promise<ResultOf<W>>;
const starter = <W extends RunbookWorkflow>(type: W): Starter<W> => (client, input, options) => startRunbookWorkflow(client, type, input, options);
const executor = <W extends RunbookWorkflow>(type: W): Executor<W> => (client, input, options) => executeRunbookWorkflow(client, type, input, options);

export const startClusterHealth = starter('clusterHealth');
export const executeClusterHealth = executor('clusterHealth');
export const startCreateCluster = starter('createCluster');
export const executeCreateCluster = executor('createCluster');
export const startFailoverTest = starter('failoverTest');
export const executeFailoverTest = executor('failoverTest');
export const startAddNode = starter('addNode');
export const executeAddNode = executor('addNode');
export const startRemoveNode = starter('removeNode');
export const executeRemoveNode = executor('removeNode');
export const startRebalance = starter('rebalance');
export const executeRebalance = executor('rebalance');
export const startBackupCluster = starter('backupCluster');
export const executeBackupCluster = executor('backupCluster');
export const startRestoreCluster = starter('restoreCluster');
export const executeRestoreCluster = executor('restoreCluster');
export const startVerifyBackup = starter('verifyBackup');
export const executeVerifyBackup = executor('verifyBackup');
export const startRepairCluster = starter('repairCluster');
export const executeRepairCluster = executor('repairCluster');
export const startRoutingCheck = starter('routingCheck');
export const executeRoutingCheck = executor('routingCheck');
export const startUpgradeRedis = starter('upgradeRedis');
export const executeUpgradeRedis = executor('upgradeRedis');
export const startUpgradeEnvoy = starter('upgradeEnvoy');
export const executeUpgradeEnvoy = executor('upgradeEnvoy');
export const startConfigureAcl = starter('configureAcl');
export const executeConfigureAcl = executor('configureAcl');
/** The new password is the user's nextPasswordEnv/nextPasswordFile in the worker's environment, never an input. */
export const startRotateCredentials = starter('rotateCredentials');
export const executeRotateCredentials = executor('rotateCredentials');
