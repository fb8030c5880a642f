export { clusterHealth } from './clusterHealth';
export { createCluster } from './createCluster';
export { failoverTest } from './failoverTest';
export { rebalance } from './rebalance';
export { addNode } from './addNode';
export { removeNode } from './removeNode';
