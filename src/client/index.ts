/** The client package: connection, the typed SDK of every runbook workflow, the nightly backup Schedule. */
export { connectClient, TASK_QUEUE } from './connection';
export * from './sdk';
export {
  backupScheduleId, deleteBackupSchedule, describeBackupSchedule, listBackupSchedules, pauseBackupSchedule, resumeBackupSchedule, triggerBackupSchedule,
  upsertBackupSchedule, validateCron, type BackupScheduleOptions, type ScheduleSummary,
} from './schedules';
export { abortUpdate, approveUpdate, pauseUpdate, progressQuery, redisClusterKey, resumeUpdate, runbookOperationKey, throttleUpdate } from '../shared';
export type {
  AddNodeInput, BackupClusterInput, ClusterHealthInput, CreateClusterInput, FailoverTestInput, RebalanceInput, RemoveNodeInput, RepairClusterInput,
  RestoreClusterInput, RoutingCheckInput, UpgradeEnvoyInput, UpgradeRedisInput, VerifyBackupInput,
} from '../workflows/inputs';
export type { AddNodeReport } from '../workflows/addNode';
export type { BackupReport } from '../workflows/backupCluster';
export type { ClusterHealthResult } from '../workflows/clusterHealth';
export type { CreateClusterResult } from '../workflows/createCluster';
export type { FailoverTestReport } from '../workflows/failoverTest';
export type { RebalanceReport } from '../workflows/rebalance';
export type { RemoveNodeReport } from '../workflows/removeNode';
export type { RepairReport } from '../workflows/repairCluster';
export type { RestoreReport } from '../workflows/restoreCluster';
export type { RoutingCheckReport } from '../workflows/routingCheck';
export type { UpgradeEnvoyReport } from '../workflows/upgradeEnvoy';
export type { UpgradeRedisReport } from '../workflows/upgradeRedis';
export type { VerifyBackupReport } from '../workflows/verifyBackup';
