export * from './address.js';
export * from './address-list.js';
export * from './ban.js';
export * from './clock.js';
export * from './duration.js';
export * from './errors.js';
export * from './lockout.js';
export * from './action.js';
