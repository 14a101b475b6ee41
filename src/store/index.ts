export {
  BanStore, type BanChange, type BanResult, type BulkBanReport, type FailureCounter, type LogBatchCommit, type LogPosition,
} from './ban-store.js';
export { loadMigrations, migrate, schemaVersion, SCHEMA_DIR, type Migration, type MigrationReport } from './migrations.js';
export { openDatabase, type OpenedDatabase } from './open.js';
