export { DaemonMetrics, type BackendOutcome, type LogSourceState, type MetricsSources, type RunReason } from './metrics.js';
export { serveMetrics } from './server.js';
