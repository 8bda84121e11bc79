/**
 * The delivery agent's Prometheus metrics, created once per agent on its registry.
 */
import type { Metrics } from '@mailway/runtime';

export type DeliveryOutcome = 'delivered' | 'duplicate' | 'expanded' | 'over_quota' | 'unknown_recipient' | 'no_content' | 'loop' | 'failed';

/** Register the agent's metrics. */
export function createDeliveryMetrics(metrics: Metrics) {
  return {
    deliveries: metrics.counter('delivery_attempts_total', 'Delivery attempts, by outcome and source (queue or lmtp)', ['outcome', 'source']),
    bytes: metrics.counter('delivery_bytes_total', 'Octets stored in mailboxes'),
    lmtpRefused: metrics.counter('delivery_lmtp_connections_refused_total', 'LMTP connections refused when accepted, by the limit reached', ['limit']),
    seconds: metrics.histogram('delivery_seconds', 'Time of one delivery attempt', ['source'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5]),
  };
}

/** The agent's metrics, as its factory registers them (each counter typed with its own labels). */
export type DeliveryMetrics = Readonly<ReturnType<typeof createDeliveryMetrics>>;
