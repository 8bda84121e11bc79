/**
 * The relay agent's Prometheus metrics, created once per agent on its registry.
 */
import type { Metrics } from '@mailway/runtime';

export type RejectionReason =
  | 'unknown_user'
  | 'relay_denied'
  | 'too_many_recipients'
  | 'greylisted'
  | 'lookup_failed'
  | 'auth_failed'
  | 'auth_limited'
  | 'queue_unavailable'
  | 'message_invalid'
  | 'too_many_hops'
  | 'spf_fail'
  | 'spf_temperror'
  | 'dmarc_reject'
  | 'dmarc_temperror';

/** Greylisting decisions: first sighting, retried too early, retried after the delay, already known, trusted client. */
export type GreylistOutcome = 'new' | 'early' | 'passed' | 'known' | 'exempt';

export type Route = 'local' | 'remote';

/** Register the agent's metrics. */
export function createRelayMetrics(metrics: Metrics) {
  return {
    connections: metrics.counter('relay_connections_total', 'Inbound SMTP connections accepted'),
    connectionsRefused: metrics.counter('relay_connections_refused_total', 'Inbound connections refused when accepted, by the limit reached', ['limit']),
    messages: metrics.counter('relay_messages_total', 'Inbound messages accepted and queued'),
    bytes: metrics.counter('relay_bytes_total', 'Octets of inbound messages accepted and queued'),
    rejections: metrics.counter('relay_rejections_total', 'Inbound commands or messages refused, by reason', ['reason']),
    authFailures: metrics.counter('relay_auth_failures_total', 'Failed AUTH attempts, by reason', ['reason']),
    authBars: metrics.counter('relay_auth_bars_total', 'Failed-login limits reached, by kind (ip, user_ip, user)', ['limit']),
    greylist: metrics.counter('relay_greylist_total', 'Greylisting decisions at RCPT, by outcome', ['outcome']),
    routed: metrics.counter('relay_routed_recipients_total', 'Recipients routed, by route: by the transfer worker, or at intake for a message to one local recipient', ['route']),
    handoffSeconds: metrics.histogram('relay_handoff_seconds', 'Time from end of data to queued (spool write and job add)', [], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]),
    inflowDelays: metrics.counter('relay_inflow_delays_total', 'Messages whose intake waited for the queue backlog to fall (MAILWAY_IN_FLOW_BACKLOG)'),
    inflowDelaySeconds: metrics.counter('relay_inflow_delay_seconds_total', 'Time messages waited at intake for the queue backlog to fall'),
    outbound: metrics.counter('relay_outbound_recipients_total', 'Outbound delivery attempts per recipient, by outcome (delivered, deferred, failed)', ['outcome']),
    etrn: metrics.counter('relay_etrn_total', 'ETRN requests, by outcome (started, none, refused, locked, failed)', ['outcome']),
    odmrSessions: metrics.counter('relay_odmr_sessions_total', 'ODMR ATRN requests, by outcome (turned, no_mail, refused, locked, failed)', ['outcome']),
    odmrMessages: metrics.counter('relay_odmr_messages_total', 'Held messages offered to sites over turned-around ODMR sessions, by outcome (finished: nothing left to send; deferred: some recipients wait for the next pull; error)', ['outcome']),
    mtaStsLookups: metrics.counter('relay_outbound_mta_sts_lookups_total', 'MTA-STS policy lookups for outbound mail, by how the policy was found: fetched, cached, cached_after_failure, none, failed', ['source']),
    daneLookups: metrics.counter('relay_outbound_dane_lookups_total', 'DANE lookups for outbound mail, by outcome: applies (secure TLSA records found for an MX host) or none', ['outcome']),
    tlsReports: metrics.counter('relay_outbound_tls_reports_total', 'SMTP TLS reports (RFC 8460) handed on, by method (mailto, https) and outcome (sent, failed)', ['method', 'outcome']),
    tlsPolicy: metrics.counter('relay_outbound_tls_policy_total', 'Outbound hosts checked against a receiving domain\'s TLS policy, by policy, mode and result (success or an RFC 8460 result type)', ['policy', 'mode', 'result']),
    outboundSessions: metrics.counter('relay_outbound_sessions_total', 'Outbound SMTP sessions used for a message: opened for it, or reused from an earlier one', ['kind']),
    outboundPaced: metrics.counter('relay_outbound_paced_total', "Outbound attempts that waited for a destination's rate limit"),
    outboundConcurrencyFeedback: metrics.counter('relay_outbound_concurrency_feedback_total', "Outbound attempts that widened (success) or narrowed (congestion) a destination's concurrency window", ['signal']),
  };
}

/** The agent's metrics, as its factory registers them (each counter typed with its own labels). */
export type RelayMetrics = Readonly<ReturnType<typeof createRelayMetrics>>;
