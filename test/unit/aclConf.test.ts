import { authDirectives, OPERATOR_RULES } from '../../src/runtime/aclConf';
import { nodeConf } from '../../src/runtime/redisConf';
import { loginsOf } from '../../src/activities/redis/connection';
import { parseInventory } from '../../src/config';
import { resolveNodeSecrets } from '../../src/credentials';

const users = {
  operator: { username: 'ops', passwords: ['op-pass'] },
  replication: { username: 'repl', passwords: ['repl "pass"'] },
  application: { username: 'app', passwords: ['app-pass', 'app-next'] },
  applicationRules: '~* &* +@all -@admin -@dangerous',
};

const conf = (lines: [string, string][]) => lines.map(([k, v]) => `${k} ${v}`);

test('with acl: the default user off, one user per role with its rules, replicas log in as the replication user', () => {
  const lines = conf(authDirectives({ acl: users }));
  expect(lines[0]).toBe('user "default" "off" "resetpass" "resetkeys" "resetchannels" "-@all"');
  expect(lines.find((l) => l.startsWith('user "ops"'))).toBe(`user "ops" "on" "resetpass" ">op-pass" ${OPERATOR_RULES.map((r) => `"${r}"`).join(' ')}`);
  expect(lines.find((l) => l.startsWith('user "repl"'))).toBe('user "repl" "on" "resetpass" ">repl \\"pass\\"" "resetkeys" "resetchannels" "-@all" "+psync" "+replconf" "+ping"');
  // During a rotation both passwords are valid.
  expect(lines.find((l) => l.startsWith('user "app"'))).toContain('">app-pass" ">app-next" "resetkeys" "resetchannels" "-@all" "~*" "&*" "+@all" "-@admin" "-@dangerous"');
  expect(lines).toContain('masteruser "repl"');
  expect(lines).toContain('masterauth "repl \\"pass\\""');
  // requirepass would give the default user a password again.
  expect(lines.some((l) => l.startsWith('requirepass'))).toBe(false);
});

test('the operator rules hold no admin command beyond what the workflows send', () => {
  expect(OPERATOR_RULES).toContain('-@all');
  for (const banned of ['+@all', '+@admin', '+@dangerous', '+shutdown', '+debug', '+module', '+eval', '+keys', '&*']) expect(OPERATOR_RULES).not.toContain(banned);
});

test('without acl, a usernameEnv user is defined, so masteruser names a user that exists', () => {
  const lines = conf(authDirectives({ username: 'worker', password: 'pw' }));
  expect(lines).toEqual(['requirepass "pw"', 'masterauth "pw"', 'user "worker" "on" "resetpass" ">pw" "~*" "&*" "+@all"', 'masteruser "worker"']);
  expect(conf(authDirectives({ password: 'pw' }))).toEqual(['requirepass "pw"', 'masterauth "pw"']);
  expect(nodeConf({ address: '127.0.0.1:7001', dir: '/d', nodeTimeoutMs: 2000, secrets: { acl: users }, extraConfig: {}, daemonize: false })).toContain('masteruser "repl"');
});

test('the worker logs in as the operator, with the next password and then the cluster password as fallbacks', () => {
  const inv = parseInventory({
    clusters: {
      main: {
        nodes: ['127.0.0.1:7001'],
        auth: { passwordEnv: 'OLD' },
        acl: { operator: { passwordEnv: 'OP', nextPasswordEnv: 'OP_NEXT' }, replication: { passwordEnv: 'R' }, application: { passwordEnv: 'A' } },
      },
    },
  });
  const env = { OLD: 'old', OP: 'op', OP_NEXT: 'op2', R: 'r', A: 'a' };
  expect(loginsOf(inv.clusters.main!, env)).toEqual([
    { username: 'redisforge-operator', password: 'op' },
    { username: 'redisforge-operator', password: 'op2' },
    { username: undefined, password: 'old' },
  ]);
  expect(resolveNodeSecrets(inv.clusters.main!, env).acl!.application).toEqual({ username: 'app', passwords: ['a'] });
});
