/** ACL users on a cluster's nodes: configureAcl and rotateCredentials. */
import type { ClusterConfig } from '../../config';
import type { NodeConnector } from './connection';

export function createAclActivities(connectorFor: (cluster: string) => NodeConnector, clusterConfig: (cluster: string) => ClusterConfig, env: NodeJS.ProcessEnv) {
  void connectorFor;
  void clusterConfig;
  void env;
  return {};
}
