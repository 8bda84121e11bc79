/**
 * The one place an agent process starts and stops.
 *
 * Reads: the agent's configuration (through its `loadConfig`), SIGTERM and SIGINT.
 * Emits: JSON log lines (`started`, `stopping`, `stopped`, `stopped before start-up finished`
 * for a signal while start() still waits, fatal errors), the HTTP endpoint
 * for metrics and health, and the exit code: 0 after a clean stop, 78 (EX_CONFIG) for bad
 * configuration (found loading it, or at start-up), 1 for any failure to start or stop.
 */
import { ConfigError } from '@mailway/config';
import { type HttpEndpoint, startHttpEndpoint } from './health.js';
import { type Logger, createLogger } from './logger.js';
import { type Metrics, createMetrics } from './metrics.js';
import { onShutdown } from './shutdown.js';

/** sysexits.h: configuration error. */
const EX_CONFIG = 78;

export interface AgentContext {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export interface RunningAgent {
  /** Ready to take work (listeners up, Redis connected). */
  ready(): boolean;
  /** Stop accepting, finish sessions and jobs in flight, release resources. */
  stop(): Promise<void>;
}

export interface AgentDefinition<C> {
  /** The agent's name, e.g. `submission`. */
  readonly name: string;
  /** Loads and validates the configuration; may throw ConfigError. */
  readonly loadConfig: () => C;
  readonly logLevel: (config: C) => string;
  /** Where the metrics and health endpoint listens. */
  readonly http: (config: C) => { host: string; port: number };
  readonly start: (config: C, context: AgentContext) => Promise<RunningAgent>;
  /** How long stop() may take before the process gives up and exits 1; default 30 000 ms. */
  readonly shutdownTimeoutMs?: number;
}

/** Loads the configuration, starts the agent and its endpoint, and stops both on a signal. */
export async function runAgent<C>(definition: AgentDefinition<C>): Promise<void> {
  const config = loadOrExit(definition);
  const logger = createLogger({ name: definition.name, level: definition.logLevel(config) });
  const metrics = createMetrics(definition.name);

  // Anything thrown and never caught ends the process, logged.
  process.on('uncaughtException', (error) => fail(logger, error, 'uncaught exception'));
  process.on('unhandledRejection', (reason) => fail(logger, reason, 'unhandled rejection'));

  // The endpoint first, so that a taken port fails before the agent accepts any work.
  let agent: RunningAgent | null = null;
  let stopping = false;
  const http = definition.http(config);
  let endpoint: HttpEndpoint;
  try {
    endpoint = await startHttpEndpoint({ ...http, metrics, ready: () => !stopping && agent !== null && agent.ready() });
  } catch (error) {
    return fail(logger, error, 'cannot start the HTTP endpoint');
  }
  // A signal while start-up waits (for Redis, say, however long): nothing is in flight yet.
  const stopEarly = onShutdown(async (signal) => {
    logger.info({ signal }, 'stopped before start-up finished');
    process.exit(0);
  });
  try {
    agent = await definition.start(config, { logger, metrics });
  } catch (error) {
    await endpoint.close().catch(() => {});
    // A setting that only start-up can judge (one that does not fit this host) is still a configuration error.
    if (error instanceof ConfigError) exitConfigError(error);
    return fail(logger, error, 'start failed');
  } finally {
    stopEarly();
  }

  // Graceful stop on the first signal; a second one means "now". Installed before `started`
  // is logged, so that whoever waits for that line may signal at once.
  const running = agent;
  const timeoutMs = definition.shutdownTimeoutMs ?? 30_000;
  onShutdown(
    async (signal) => {
      stopping = true;
      logger.info({ signal }, 'stopping');
      await stopWithin(running, endpoint, timeoutMs, logger);
      logger.info('stopped');
      process.exit(0);
    },
    {
      onRepeat: (signal) => {
        logger.warn({ signal }, 'second signal while stopping: exiting now');
        process.exit(1);
      },
    },
  );
  logger.info({ http: { host: http.host, port: endpoint.port }, node: process.version }, 'started');
}

/** The configuration, or exit 78 with the ConfigError's lines on stderr (no stack trace). */
function loadOrExit<C>(definition: AgentDefinition<C>): C {
  try {
    return definition.loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) exitConfigError(error);
    process.stderr.write(`${definition.name}: cannot load the configuration: ${messageOf(error)}\n`);
    process.exit(1);
  }
}

/** Exits 78 with the ConfigError's lines on stderr (no stack trace). */
function exitConfigError(error: ConfigError): never {
  process.stderr.write(`${error.message}\n`);
  process.exit(EX_CONFIG);
}

/** Stops the agent, then the endpoint; exits 1 if stop() fails or outlasts `timeoutMs`. */
async function stopWithin(agent: RunningAgent, endpoint: HttpEndpoint, timeoutMs: number, logger: Logger): Promise<void> {
  try {
    if (!(await settlesWithin(agent.stop(), timeoutMs))) {
      logger.error({ timeoutMs }, `stop did not finish within ${timeoutMs} ms`);
      process.exit(1);
    }
    await endpoint.close();
  } catch (error) {
    fail(logger, error, 'stop failed', 'error');
  }
}

/** Logs the error with its message and exits 1. */
function fail(logger: Logger, error: unknown, what: string, level: 'fatal' | 'error' = 'fatal'): never {
  logger[level]({ err: error }, `${what}: ${messageOf(error)}`);
  process.exit(1);
}

/** Does the promise settle within `ms`? Rejects as it does. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The message of anything thrown. */
function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
