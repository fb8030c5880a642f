export { clusterHealth } from './clusterHealth';
export { createCluster } from './createCluster';
export { failoverTest } from './failoverTest';
export { rebalance } from './rebalance';
