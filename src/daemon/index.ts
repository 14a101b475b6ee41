export { runDaemon, type DaemonOptions } from './daemon.js';
export { claimPidFile, pidFileFor, runningDaemon } from './pidfile.js';
