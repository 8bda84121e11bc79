/**
 * @module @mailway/runtime
 *
 * What every Mailway agent process shares: the JSON logger, Prometheus metrics, the
 * `/metrics` `/healthz` `/readyz` endpoint, graceful shutdown, and `runAgent`, which ties
 * them together around an agent's config and start function.
 */
export { createLogger, type Logger, type LoggerOptions } from './logger.js';
export { createMetrics, type Counter, type Gauge, type Histogram, type Metrics } from './metrics.js';
export { startHttpEndpoint, type HttpEndpoint, type HttpEndpointOptions } from './health.js';
export { onShutdown, type ShutdownOptions } from './shutdown.js';
export { runAgent, type AgentContext, type AgentDefinition, type RunningAgent } from './agent.js';
export { violationReporter } from './violations.js';
export { readOpenFileLimit, parseOpenFileLimit, type OpenFileLimit } from './open-files.js';
export { connectionLimits, type ConnectionLimitInput, type ConnectionLimitSettings } from './connection-limits.js';
export { loadCertificate, selfSignedCertificate, type Certificate } from './tls.js';
