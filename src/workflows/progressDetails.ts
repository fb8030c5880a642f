/** The markdown the Web UI shows as a running operation's current details. */
import type { Progress } from '../shared';

/** The operation, its state, the current step with its detail, and the checklist of every step. */
export function renderProgressDetails(progress: Progress, steps: readonly string[]): string {
  const lines = [
    `**${progress.operation}**${progress.cluster ? ` on cluster \`${progress.cluster}\`` : ''}: ${progress.state}`,
    '',
    `Step ${Math.min(progress.stepsDone + (progress.state === 'running' ? 1 : 0), progress.stepsTotal)} of ${progress.stepsTotal}: ${progress.step}`,
    ...(progress.detail ? ['', progress.detail] : []),
    '',
    ...steps.map((s, i) => `${i < progress.stepsDone ? '- [x]' : '- [ ]'} ${s}`),
  ];
  return lines.join('\n');
}
