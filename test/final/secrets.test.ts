/**
 * Runs last in a full run (alone it has nothing to inspect): the Redis password appears in no
 * workflow history of the whole run, although every cluster the tests used has one; and every
 * run carries the search attributes.
 */
import { password, testClient } from '../harness/cluster';

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

test('no history of this run contains the password; all carry RedisCluster and RunbookOperation', async () => {
  const client = await testClient();
  const secret = password();
  const types = new Set<string>();
  let count = 0;
  for await (const wf of client.workflow.list()) {
    const text = historyText(await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory());
    expect(text).toContain('json/plain'); // payload bytes were decoded, so the search means something
    expect(text).not.toContain(secret);
    if (wf.searchAttributes.RedisCluster) types.add(`${wf.type}:${String(wf.searchAttributes.RunbookOperation)}`);
    count++;
  }
  expect(count).toBeGreaterThan(5);
  expect([...types].sort()).toEqual(expect.arrayContaining(['clusterHealth:clusterHealth', 'createCluster:createCluster']));
});
