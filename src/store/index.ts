export {
  BanStore, type BanChange, type BanRecord, type BanResult, type BulkBanReport, type DecidedBan, type FailureCounter, type LogBatchCommit,
  type RecordImportReport,
} from './ban-store.js';
export type { ChangeKind, ChangeQuery, StoredChange } from './change-log.js';
export { loadMigrations, migrate, schemaVersion, SCHEMA_DIR, type Migration, type MigrationReport } from './migrations.js';
export { openDatabase, type OpenedDatabase, type OpenOptions } from './open.js';
export { checkDatabaseAccess } from './access.js';
export { DatabaseDamagedError, isDamaged } from './damage.js';
export { repairDatabase, type RepairReport } from './repair.js';
export { readFail2banDb, type Fail2banDbBans, type Fail2banDbProblem } from './fail2ban-db.js';
