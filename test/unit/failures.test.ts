/**
 * The failure line an operator reads (the CLI, the SDK, the drill's report): the innermost cause
 * through child workflows and activities, with where it happened, not "Child Workflow execution
 * failed".
 */
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState, TerminatedFailure, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { describeFailure } from '../../src/shared';

const migrateError = ApplicationFailure.create({ type: 'MigrateFailed', message: '127.0.0.1:7001 slot 42: MIGRATE refused: ERR Target instance replied with error: OOM' });
const inActivity = (cause: Error) => new ActivityFailure('Activity task failed', 'migrateSlots', '7', RetryState.NON_RETRYABLE_FAILURE, undefined, cause);
const inChild = (cause: Error) => new ChildWorkflowFailure('default', { workflowId: 'addNode-local-1-rebalance', runId: 'r' }, 'rebalance', RetryState.NON_RETRYABLE_FAILURE, cause);

test('a child workflow whose activity failed: its type, and the activity error with where it happened', () => {
  expect(describeFailure(inChild(inActivity(migrateError)))).toEqual({
    type: 'MigrateFailed',
    message: 'child rebalance addNode-local-1-rebalance: migrateSlots: 127.0.0.1:7001 slot 42: MIGRATE refused: ERR Target instance replied with error: OOM',
  });
});

test("an activity that timed out: the timeout and its last heartbeat", () => {
  const timeout = new TimeoutFailure('activity timeout', { waitingFor: 'cluster_state:ok', status: '2 of 3 masters' }, TimeoutType.HEARTBEAT);
  expect(describeFailure(inActivity(timeout))).toEqual({
    type: 'ActivityTimedOut',
    message: `migrateSlots timed out (${TimeoutType.HEARTBEAT}); last heartbeat {"waitingFor":"cluster_state:ok","status":"2 of 3 masters"}`,
  });
});

test('the workflow\'s own failure, a terminated child, and an unknown error', () => {
  expect(describeFailure(ApplicationFailure.create({ type: 'PreflightFailed', message: 'no replica of 127.0.0.1:7001 is in sync' }))).toEqual({ type: 'PreflightFailed', message: 'no replica of 127.0.0.1:7001 is in sync' });
  expect(describeFailure(inChild(new TerminatedFailure('by ops')))).toEqual({ type: 'Terminated', message: 'child rebalance addNode-local-1-rebalance: terminated: by ops' });
  expect(describeFailure(new Error('boom'))).toEqual({ type: 'Failed', message: 'boom' });
});
