/**
 * Runs last in a full run (alone it has nothing to inspect): neither the Redis password nor the
 * S3 secret key appears in any workflow history of the whole run, although every cluster the
 * tests used has one and backups went to S3; and every run carries the search attributes.
 */
import { password, testClient } from '../harness/cluster';
import { S3_SECRET_KEY } from '../harness/env';

/** Every string and every byte payload of a history, decoded, in one text. */
function historyText(value: unknown): string {
  const parts: string[] = [];
  const walk = (v: unknown) => {
    if (v == null) return;
    if (typeof v === 'string') parts.push(v);
    else if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('utf8'));
    else if (typeof v === 'object') Object.values(v as Record<string, unknown>).forEach(walk);
  };
  walk(value);
  return parts.join('\n');
}

test('no history of this run contains the password or the S3 secret key; all carry RedisCluster and RunbookOperation', async () => {
  const client = await testClient();
  const secret = password();
  const types = new Set<string>();
  let count = 0;
  for await (const wf of client.workflow.list()) {
    const text = historyText(await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory());
    expect(text).toContain('json/plain'); // payload bytes were decoded, so the search means something
    expect(text).not.toContain(secret);
    expect(text).not.toContain(S3_SECRET_KEY);
    if (wf.searchAttributes.RedisCluster) types.add(`${wf.type}:${String(wf.searchAttributes.RunbookOperation)}`);
    count++;
  }
  expect(count).toBeGreaterThan(5);
  expect([...types].sort()).toEqual(expect.arrayContaining(['backupCluster:backupCluster', 'clusterHealth:clusterHealth', 'createCluster:createCluster', 'restoreCluster:restoreCluster']));
});
