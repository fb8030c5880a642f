/**
 * The workflow's own failures, one constructor per kind, so every refusal of a kind carries the
 * same type and shape (clients and the CLI tell them apart by `type`).
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/** A bad input: every problem, one per field, in the message and in the details. */
export function invalidInput(problems: string[]): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'InvalidInput',
    nonRetryable: true,
    message: `invalid input: ${problems.join('; ')}`,
    details: [{ problems }],
  });
}

/** A preflight check refused the operation before it changed anything; `message` says what to fix. */
export function preflightFailed(message: string, details?: unknown[]): ApplicationFailure {
  return ApplicationFailure.create({ type: 'PreflightFailed', nonRetryable: true, message, details });
}

/** An activity's non-retryable ApplicationFailure becomes the workflow's own failure, unwrapped. */
export function surfaceActivityFailure(err: unknown): never {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
    throw ApplicationFailure.create({ type: err.cause.type ?? undefined, nonRetryable: true, message: err.cause.message, details: err.cause.details as unknown[] });
  }
  throw err;
}
