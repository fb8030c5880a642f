export * from './slots';
export * from './nodes';
export * from './info';
export * from './nodesConf';
export * from './health';
export * from './layout';
export * from './address';
export * from './failover';
