/** The ACL procedures of the CLI (issue #12): configure-acl and rotate-credentials. */
import { InvalidArgumentError } from 'commander';
import type { ProcedureSpec } from './procedures';

// Not procedures.ts's wholeNumber: that module imports this one, so its values are not there yet.
function seconds(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number of seconds, got "${value}"`);
  return Number(value);
}

export const ACL_PROCEDURES: ProcedureSpec[] = [
  {
    name: 'configure-acl', type: 'configureAcl', long: false,
    summary: "Give a requirepass cluster one ACL user per role (operator, replication, application) from the inventory's acl section, then turn the default user off",
    flags: [
      { flags: '--dry-run', description: 'list what each node lacks without touching anything', field: 'dryRun' },
      { flags: '--approve', description: 'pre-approve turning the default user off (otherwise it waits for "redisforge approve <id>")', field: 'approve' },
    ],
    examples: ['redisforge configure-acl --cluster main --dry-run', 'redisforge configure-acl --cluster main', 'redisforge approve <id> --by alice'],
  },
  {
    name: 'rotate-credentials', type: 'rotateCredentials', long: false,
    summary: "Rotate a user's password with no downtime: the new one (the user's nextPasswordEnv/nextPasswordFile in the worker's environment) is added on every node, checked, then the old one removed",
    flags: [
      { flags: '--user <role>', description: 'whose password', field: 'user', choices: ['operator', 'replication', 'application'], mandatory: true },
      { flags: '--dry-run', description: 'check every node and the new password without changing anything', field: 'dryRun' },
      { flags: '--timeout <seconds>', description: "the longest the replicas' links may take to come back (default 120)", field: 'timeoutSeconds', parse: seconds },
    ],
    examples: ['redisforge rotate-credentials --user application --cluster main'],
  },
];
