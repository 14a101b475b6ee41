export { changeAddress, type ChangeResult } from './address-change.js';
export { applyChange, reconcile, type BackendReport, type ReconcileOptions } from './reconcile.js';
export { diffEntries, type DiffResult } from './diff.js';
export { defaultJailRules, entryOf, rulesFor, type JailRules } from './entries.js';
export { checkSchedule } from './cron-timer.js';
export { ReconcileLoop, type LastReconcile, type LoopOptions } from './loop.js';
