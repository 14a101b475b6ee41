export * from './store-config.js';
