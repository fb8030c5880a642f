export { clusterHealth } from './clusterHealth';
export { createCluster } from './createCluster';
export { failoverTest } from './failoverTest';
