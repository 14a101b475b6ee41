export { DaemonMetrics, type BackendOutcome, type LogSourceState, type MetricsSources } from './metrics.js';
export { serveMetrics } from './server.js';
