export { clusterHealth } from './clusterHealth';
export { createCluster } from './createCluster';
