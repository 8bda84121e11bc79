/**
 * Metrics of sender authentication on port 25: each check's result, what the DMARC policy
 * led to, and the block and allow lists' answers at connect.
 */
import type { Metrics } from '@mailway/runtime';

/** What became of a message under its domain's DMARC policy. */
export type DmarcAction = 'accept' | 'quarantine' | 'reject' | 'defer';

/** Register the counters on the agent's registry. */
export function createAuthenticationMetrics(metrics: Metrics) {
  return {
    results: metrics.counter('relay_auth_results_total', 'Sender authentication results on port 25, by method (spf, dkim per signature, arc, dmarc) and result', ['method', 'result']),
    dmarc: metrics.counter('relay_dmarc_actions_total', 'Messages by what their DMARC evaluation led to (accept, quarantine, reject, defer) and why (policy, none, pass, sampled_out, local_policy, trusted_forwarder, temperror)', ['action', 'reason']),
    reports: metrics.counter('relay_dmarc_reports_total', 'DMARC aggregate reports, by outcome (sent: queued to the rua; no_destination: no rua that agreed)', ['outcome']),
    dnsLists: metrics.counter('relay_dnsbl_checks_total', 'Block and allow list answers about connecting clients, by zone and outcome (listed, clear, error), and cached answers (zone "cache")', ['zone', 'outcome']),
  };
}

export type AuthenticationMetrics = Readonly<ReturnType<typeof createAuthenticationMetrics>>;
