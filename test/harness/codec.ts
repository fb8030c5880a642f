/**
 * The run's payload encryption: a fresh key per run (globalSetup), kept in run.json as
 * `codecKey`, given to the worker, to testClient() and to the codec server the run's Web UI
 * decodes through.
 */
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec, generateCodecKey, KEYS_ENV, parseCodecKeys } from '../../src/codec';
import { runInfo, TEMPORAL_UI_PORT, TEST_INSTANCE, type RunInfo } from './env';

/** The run's codec server (the dev server's --ui-codec-endpoint); 17 above the UI's port, clear of the dev server's ports. */
export const CODEC_PORT = 18250 + TEST_INSTANCE * 100;
export const CODEC_URL = `http://127.0.0.1:${CODEC_PORT}`;
export const UI_ORIGIN = `http://127.0.0.1:${TEMPORAL_UI_PORT}`;

/** run.json's codec key ("id:base64key"), until RunInfo in env.ts declares it. */
export type RunInfoWithCodec = RunInfo & { codecKey: string };

export function newRunCodecKey(): string {
  return generateCodecKey(`test-${Date.now().toString(36)}`);
}

/** The run's key entry: globalSetup puts it in the environment (tests in its process), run.json keeps it for the others. */
export function runCodecKey(): string {
  return process.env[KEYS_ENV] || (runInfo() as RunInfoWithCodec).codecKey;
}

export function runCodec(): EncryptionCodec {
  return new EncryptionCodec(parseCodecKeys(runCodecKey(), 'the run\'s codec key'));
}

/** The data converter every test client uses, like the worker's. */
export function testDataConverter(): DataConverter {
  return { payloadCodecs: [runCodec()] };
}
