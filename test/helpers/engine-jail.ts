import type { JailEngineOptions } from '../../src/engine/index.js';

/** 2026-01-01T00:00:00Z: where the engine tests' log clock starts. */
export const T0 = 1_767_225_600;

/** An sshd jail as the engine tests take it: maxretry 3 in 10 minutes, nothing ignored. */
export const SSHD_ENGINE: JailEngineOptions = {
  jail: 'sshd',
  maxretry: 3,
  findtime: 600,
  bantime: 600,
  increment: { enabled: false, factor: 1, overalljails: false },
  ignoreip: [],
  ignoreself: false,
  maxmatches: 3,
  usedns: 'warn',
};
