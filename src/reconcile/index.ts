export { changeAddress, type ChangeResult } from './address-change.js';
export { applyChange, reconcile, type BackendReport, type EnforceOptions, type ReconcileOptions } from './reconcile.js';
export { banFloor, enforceable, type BanFloor, type RefusedBan } from './floor.js';
export { GUARD_MIN, knownBans, needsConsent } from './removal-guard.js';
export { diffEntries, type DiffResult } from './diff.js';
export { defaultJailRules, entryOf, jailRulesOf, rulesFor, type JailRules } from './entries.js';
export { checkSchedule } from './cron-timer.js';
export { ReconcileLoop, type LastReconcile, type LoopOptions } from './loop.js';
export { CHANGE_BATCH, changeStates, DAEMON, readChanges, type ChangeFeed } from './change-feed.js';
