/**
 * `redisforge codec-server`: the HTTP endpoint the Temporal Web UI decodes payloads through
 * (`temporal server start-dev --ui-codec-endpoint URL`, or the UI's "Codec Server" setting),
 * with the keys of REDISFORGE_CODEC_KEYS / REDISFORGE_CODEC_KEYS_FILE. Runs until Ctrl-C.
 */
import { Option, type Command } from 'commander';
import { CodecConfigError, codecKeysFromEnv, describeCodec, EncryptionCodec, KEYS_ENV, KEYS_FILE_ENV, startCodecServer } from '../../codec';
import { EXIT, usageError } from './errors';
import { wholeNumber } from './procedures';
import type { Session } from './session';
import type { Register } from './start';

const DEFAULT_ORIGIN = 'http://127.0.0.1:8233';

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (signal: NodeJS.Signals) => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve(signal);
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

async function serve(session: Session, opts: { port: number; host: string; origin?: string[] }): Promise<number> {
  let codec: EncryptionCodec;
  try {
    codec = new EncryptionCodec(codecKeysFromEnv(session.io.env));
  } catch (err) {
    if (err instanceof CodecConfigError) throw usageError(err.message);
    throw err;
  }
  if (!codec.encryptingKeyId) throw usageError(`no codec keys: set ${KEYS_ENV}="id:base64key" or ${KEYS_FILE_ENV}, the same keys as the worker's`);
  const origins = opts.origin?.length ? opts.origin : [DEFAULT_ORIGIN];
  const bad = origins.find((o) => !/^https?:\/\/[^/\s]+$/.test(o));
  if (bad) throw usageError(`--origin ${bad}: give the Web UI's origin, scheme://host[:port] without a path (e.g. ${DEFAULT_ORIGIN})`);
  let server;
  try {
    server = await startCodecServer({ codec, port: opts.port, host: opts.host, origins, log: (line) => session.warn(line) });
  } catch (err) {
    throw usageError(`cannot listen on ${opts.host}:${opts.port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): choose another --port`);
  }
  session.info(`redisforge codec-server: ${server.url} for ${origins.join(', ')}; ${describeCodec(codec)}`);
  await untilSignal();
  await server.stop();
  return EXIT.ok;
}

export function addCodecServerCommand(program: Command, register: Register): void {
  const command = program
    .command('codec-server')
    .description('serve the payload codec endpoint the Temporal Web UI decodes encrypted inputs and results through (until Ctrl-C)')
    .addOption(new Option('--port <port>', 'the port to listen on').default(8888).argParser(wholeNumber))
    .option('--host <ip>', 'the address to bind (whoever reaches it can decrypt payloads: keep it local)', '127.0.0.1')
    .addOption(new Option('--origin <url...>', `the Web UI origin(s) allowed to call it (CORS) (default: "${DEFAULT_ORIGIN}")`))
    .addHelpText(
      'after',
      `\nKeys: ${KEYS_ENV}="id:base64key[,id2:base64key]" or ${KEYS_FILE_ENV}, the worker's keys.\n` +
        'Point the UI at it: temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8888 (or the UI\'s Codec Server setting).',
    );
  register(command, (session, cmd) => serve(session, cmd.opts<{ port: number; host: string; origin?: string[] }>()));
}
