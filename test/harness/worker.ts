/** Runs worker.ts as a child process, exactly as an operator would, so tests can kill it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KEYS_ENV, KEYS_FILE_ENV } from '../../src/codec';
import { aclEnv } from './acl';
import { runCodecKey } from './codec';
import { BUNDLE_PATH, INVENTORY_PATH, REGISTRY_PASSWORD, REGISTRY_PASSWORD_ENV, REGISTRY_USER, REGISTRY_USER_ENV, ROOT, SCRATCH_DIR, STATE_DIR, TEMPORAL_ADDRESS, WRONG_PASSWORD_ENV } from './env';

export interface WorkerProcess {
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `netns`: run the worker inside that network namespace (a host of test/harness/netns.ts). */
export async function startWorker(password: string, extraEnv: NodeJS.ProcessEnv = {}, logName = 'worker.log', options: { netns?: string } = {}): Promise<WorkerProcess> {
  const log = openSync(join(STATE_DIR, logName), 'a');
  // Fault injection lives only in the harness: a worker told to die is the same worker plus an interceptor.
  const entry = extraEnv.REDISFORGE_KILL_AT ? join(ROOT, 'test', 'harness', 'faultWorker.ts') : join(ROOT, 'worker.ts');
  // `ip netns exec` execs the worker after entering the namespace: the child's pid is the worker's.
  const [command, args] = options.netns ? ['ip', ['netns', 'exec', options.netns, process.execPath, '--import', 'tsx', entry]] : [process.execPath, ['--import', 'tsx', entry]];
  const child = spawn(command, args as string[], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', log],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: 'default',
      REDISFORGE_INVENTORY: INVENTORY_PATH,
      REDISFORGE_WORKFLOW_BUNDLE: BUNDLE_PATH,
      // Every worker of the run, with or without the S3 server, keeps its drills in the run's folder.
      REDISFORGE_SCRATCH_DIR: SCRATCH_DIR,
      REDIS_REQUIREPASS: password,
      // Workers on a test queue die with their test; the locks stay with the run's own worker.
      ...(extraEnv.REDISFORGE_TASK_QUEUE && !extraEnv.TEMPORAL_ADDRESS ? { REDISFORGE_LOCK_TASK_QUEUE: 'redisforge-ops' } : {}),
      [WRONG_PASSWORD_ENV]: 'not-the-password',
      // Pulls from the run's registry (test/harness/registry.ts).
      [REGISTRY_USER_ENV]: REGISTRY_USER,
      [REGISTRY_PASSWORD_ENV]: REGISTRY_PASSWORD,
      ...aclEnv(password),
      // The run's payload key, whatever the developer's shell holds.
      [KEYS_ENV]: runCodecKey(),
      [KEYS_FILE_ENV]: undefined,
      ...extraEnv,
    },
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`worker did not start within 60 s: ${out}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready: ${out}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      // Kept in the log too: the secrets test reads everything a worker printed.
      writeSync(log, chunk);
      out += chunk.toString();
      if (out.includes('redisforge worker:')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    child,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      });
    },
  };
}
