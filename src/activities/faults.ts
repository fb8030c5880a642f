/** Test-only fault injection: REDISFORGE_FAULT=point:nth kills the worker the nth time it reaches point. */
const faultCounts = new Map<string, number>();

export function faultPoint(point: string): void {
  const spec = process.env.REDISFORGE_FAULT;
  if (!spec) return;
  const [name, nth] = spec.split(':');
  if (name !== point) return;
  const count = (faultCounts.get(point) ?? 0) + 1;
  faultCounts.set(point, count);
  if (count === Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}
