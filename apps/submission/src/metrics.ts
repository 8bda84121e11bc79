/**
 * The submission agent's Prometheus metrics, created once per agent on its registry.
 */
import type { Metrics } from '@mailway/runtime';

export type RejectionReason =
  | 'auth_required'
  | 'auth_failed'
  | 'auth_limited'
  | 'sender_not_owned'
  | 'from_not_owned'
  | 'too_many_recipients'
  | 'rate_limited'
  | 'queue_unavailable'
  | 'message_invalid'
  | 'too_many_hops';

/** Register the agent's metrics. */
export function createSubmissionMetrics(metrics: Metrics) {
  return {
    connections: metrics.counter('submission_connections_total', 'Client connections accepted', ['listener']),
    connectionsRefused: metrics.counter('submission_connections_refused_total', 'Client connections refused when accepted, by the limit reached', ['limit']),
    authFailures: metrics.counter('submission_auth_failures_total', 'Failed AUTH attempts', ['reason']),
    authBars: metrics.counter('submission_auth_bars_total', 'Failed-login limits reached, by kind (ip, user_ip, user)', ['limit']),
    messages: metrics.counter('submission_messages_total', 'Messages accepted and queued'),
    bytes: metrics.counter('submission_bytes_total', 'Octets of messages accepted and queued'),
    rejections: metrics.counter('submission_rejections_total', 'Commands or messages refused, by reason', ['reason']),
    handoffSeconds: metrics.histogram('submission_handoff_seconds', 'Time from end of data to queued (spool write and job add)', [], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]),
    inflowDelays: metrics.counter('submission_inflow_delays_total', 'Messages whose intake waited for the queue backlog to fall (MAILWAY_IN_FLOW_BACKLOG)'),
    inflowDelaySeconds: metrics.counter('submission_inflow_delay_seconds_total', 'Time messages waited at intake for the queue backlog to fall'),
  };
}

/** The agent's metrics, as its factory registers them (each counter typed with its own labels). */
export type SubmissionMetrics = Readonly<ReturnType<typeof createSubmissionMetrics>>;
