export { banLogLine, createBanLog, type BanLogEvent } from './ban-log.js';
export { askDaemon, controlSocketFor, serveControl, type ControlRequest } from './control-socket.js';
export { runDaemon, type DaemonOptions, type DaemonStatus, type ReloadResult, type RunningFleet } from './daemon.js';
export { LogJails, type JailStatus } from './log-jails.js';
export { createLogger, type Logger, type LoggerOptions } from './logger.js';
export { claimPidFile, pidFileFor, runningDaemon } from './pidfile.js';
