/**
 * Exit codes and error messages: every error says what to do about it.
 *   0 succeeded, 1 the procedure failed (or found the cluster unhealthy), 2 bad usage or input,
 *   3 Temporal cannot be reached.
 */
import {
  isGrpcServiceError, ScheduleNotFoundError, ServiceError, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError,
} from '@temporalio/client';
import { describeFailure } from '../../shared';
import { InvalidInputError, UnsupportedOperationError } from '../sdk';

export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}

/** gRPC status codes (from @grpc/grpc-js, which is not our dependency). */
const GRPC = { INVALID_ARGUMENT: 3, UNAVAILABLE: 14 } as const;

export const usageError = (message: string) => new CliError(message, EXIT.usage);

/** The Temporal server did not answer: at connect time, or later with UNAVAILABLE. */
export function unreachable(address: string, err: unknown): CliError {
  return new CliError(
    `cannot reach Temporal at ${address} (${(err as Error).message}): start it (npm run demo -- --keep starts a local one) ` +
      'or point the CLI at yours with TEMPORAL_ADDRESS / --address, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY or a TEMPORAL_PROFILE, as for the Temporal CLI',
    EXIT.unreachable,
  );
}

function grpcCode(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcServiceError(e)) return e.code;
  }
  return undefined;
}

/**
 * The failure of a workflow run: the innermost cause, through child workflows and activities
 * (the node, the slot, Redis's own reply), with the failure type it carries.
 */
export function describeRunFailure(err: WorkflowFailedError): { type: string; message: string } {
  return err.cause ? describeFailure(err.cause) : { type: 'Failed', message: err.message };
}

/** Advice for the failure types the workflows raise. */
const ADVICE: Record<string, string> = {
  InvalidInput: 'fix the flags or the inventory as the message says (the command\'s --help lists the flags)',
  ClusterBusy: 'wait for that operation (redisforge watch <its id>) or abort it, then start again',
  PreflightFailed: 'fix what the preflight found, then start again (redisforge health shows the cluster\'s state)',
  Terminated: 'someone terminated it; look at its history in the Web UI, then start it again',
};

/** Turns any error into the line to print and the exit code. */
export function explain(err: unknown, context: { address?: string; command?: string } = {}): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof InvalidInputError) {
    return usageError(`${err.message}${context.command ? `\n  see: redisforge ${context.command} --help` : ''}`);
  }
  if (err instanceof UnsupportedOperationError) return usageError(err.message);
  if (err instanceof WorkflowFailedError) {
    const { type, message } = describeRunFailure(err);
    const advice = ADVICE[type];
    return new CliError(`failed (${type}): ${message}${advice ? `\n  -> ${advice}` : ''}`, type === 'InvalidInput' ? EXIT.usage : EXIT.failed);
  }
  if (err instanceof WorkflowUpdateFailedError) {
    return new CliError(`the workflow refused: ${err.cause ? describeFailure(err.cause).message : err.message}`, EXIT.failed);
  }
  if (err instanceof WorkflowNotFoundError) {
    return usageError(`no workflow "${err.workflowId}" in this namespace: find ids with "redisforge list" (or check TEMPORAL_NAMESPACE)`);
  }
  if (err instanceof ScheduleNotFoundError) {
    return new CliError(`no schedule "${err.scheduleId}": create it with "redisforge schedule backup --cluster <name> --cron ..."`, EXIT.failed);
  }
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    return new CliError(`a workflow with id ${err.workflowId} is already running: watch it (redisforge watch ${err.workflowId}) or choose another --id`, EXIT.failed);
  }
  const code = grpcCode(err);
  if (code === GRPC.UNAVAILABLE) return unreachable(context.address ?? 'the configured address', err);
  if (code === GRPC.INVALID_ARGUMENT && /search attribute/i.test((err as Error).message)) {
    return new CliError(`${(err as Error).message}: register RedisCluster and RunbookOperation as Keyword search attributes (temporal operator search-attribute create)`, EXIT.failed);
  }
  if (err instanceof ServiceError || code !== undefined) return new CliError(`Temporal refused: ${(err as Error).message}`, EXIT.failed);
  return new CliError((err as Error)?.message ?? String(err), EXIT.failed);
}
