/** Turning zod issues into one line per problem, named by the field's path. Pure. */
import type { z } from 'zod';

/** "clusters.local.nodes[2]" from an issue path. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );
}

export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${formatIssuePath(i.path) || '(input)'}: ${i.message}`);
}
