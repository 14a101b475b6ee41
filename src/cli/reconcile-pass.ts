/**
 * What the commands use of reconcile, as one module that every command imports it through: its
 * index also brings the daemon's loop and node-cron, and importing its files one by one split
 * them into chunks by who imports which, each one more module for a command to load.
 */
export { changeAddresses } from '../reconcile/address-change.js';
export { entryOf, jailRulesOf } from '../reconcile/entries.js';
export { banFloor } from '../reconcile/floor.js';
export { reconcile } from '../reconcile/reconcile.js';
export { GUARD_MIN, knownBans } from '../reconcile/removal-guard.js';
