/**
 * The Web UI tests' browser: Debian's headless Chromium through playwright-core (no browser
 * download), started for a suite with its test cluster, and what every page must never show.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ENCRYPTED_ENCODING } from '../../src/codec';
import { password, TestCluster } from '../harness/cluster';
import { runCodecKey } from '../harness/codec';
import { ROOT, S3_SECRET_KEY, type TestClusterName } from '../harness/env';

export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots, kept as artifacts of the run. */
export const ARTIFACTS = join(ROOT, 'test-results');

/**
 * For a suite: before its tests, starts the test cluster `name` and Chromium (without Chromium
 * the suite's tests skip themselves, and CI=true fails instead); after them, closes both.
 * Returns what the tests read: the browser, undefined when there is none.
 */
export function withBrowser(name: TestClusterName): { browser: () => Browser | undefined; cluster: () => TestCluster | undefined } {
  let browser: Browser | undefined;
  let cluster: TestCluster | undefined;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI === 'true') throw new Error(`CI=true and no ${CHROMIUM}: scripts/setup.sh installs Debian's chromium`);
      return;
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    cluster = await TestCluster.start(name);
    // Closed network: without these flags Chromium keeps trying to reach Google's services.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.destroy();
  });
  return { browser: () => browser, cluster: () => cluster };
}

/** What the page and its frames show, for assertions and for the message of a wait that fails. */
export async function shown(page: Page): Promise<string> {
  return (await Promise.all(page.frames().map((f) => f.locator('body').innerText().catch(() => '')))).join('\n');
}

/** What the page and its frames show must hold no secret, and no payload left encrypted. */
export async function expectNothingSecret(page: Page): Promise<void> {
  const text = await shown(page);
  const secrets = { 'the Redis password': password(), 'the S3 secret key': S3_SECRET_KEY, 'the codec key': runCodecKey().split(':')[1]! };
  for (const [what, secret] of Object.entries(secrets)) expect({ [what]: text.includes(secret) }).toEqual({ [what]: false });
  expect(text).not.toContain(ENCRYPTED_ENCODING);
}
