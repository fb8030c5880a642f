/**
 * Test node addresses on 127.0.0.1. A node's cluster bus listens on port + 10000: it must stay below Linux's ephemeral range
 * (32768-60999), or any outgoing connection of the run may hold it and the node cannot start
 * ("does not accept connections"). Test node ports are therefore below 22768.
 */
const EPHEMERAL_FIRST = 32768;

export function ports(first: number, count = 6): string[] {
  if (first + count - 1 + 10000 >= EPHEMERAL_FIRST) throw new Error(`test ports ${first}-${first + count - 1}: their bus ports (+10000) reach the ephemeral range (${EPHEMERAL_FIRST}+); pick ports below ${EPHEMERAL_FIRST - 10000}`);
  return Array.from({ length: count }, (_, i) => `127.0.0.1:${first + i}`);
}
