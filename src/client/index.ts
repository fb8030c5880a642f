/** The client package: connection, the typed SDK of every runbook workflow, the nightly backup and health Schedules. */
export { connectClient, TASK_QUEUE } from './connection';
export * from './sdk';
export {
  backupScheduleId, deleteBackupSchedule, describeBackupSchedule, healthScheduleId, listBackupSchedules, parseEvery, pauseBackupSchedule, resumeBackupSchedule, scheduleIdOf,
  triggerBackupSchedule, upsertBackupSchedule, upsertHealthSchedule, validateCron, type BackupScheduleOptions, type HealthScheduleOptions, type ScheduleKind, type ScheduleSummary,
} from './schedules';
export { abortUpdate, approveUpdate, describeFailure, pauseUpdate, progressQuery, redisClusterKey, resumeUpdate, runbookOperationKey, throttleUpdate } from '../shared';
export type {
  AddNodeInput, BackupClusterInput, ClusterHealthInput, CreateClusterInput, FailoverTestInput, RebalanceInput, RemoveNodeInput, RepairClusterInput,
  RestoreClusterInput, RoutingCheckInput, UpgradeEnvoyInput, UpgradeRedisInput, VerifyBackupInput,
} from '../workflows/inputs';
export type {
  AddNodeReport, BackupReport, ClusterHealthResult, CreateClusterResult, FailoverTestReport, RebalanceReport, RemoveNodeReport, RepairReport, RestoreReport, RoutingCheckReport, UpgradeEnvoyReport, UpgradeRedisReport, VerifyBackupReport,
} from '../workflows';
