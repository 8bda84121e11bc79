/**
 * Mail loop detection for the delivery agent, the ways RFC 5321 §6.3 and Postfix's local
 * delivery do it. Reads a delivery job's loop guard (its hop count and the aliases whose
 * expansion made it) and the message's header block; emits a plan for an alias expansion, or
 * LoopDetected naming the path:
 * - an expansion may not take the message past the hop limit (every re-injection is a hop);
 * - an alias target already on the job's path is not sent round again: a cycle inside one
 *   message's expansion (a → b → a, a catch-all to an alias back into the domain) is cut at
 *   its first repeat;
 * - a message that already carries `Delivered-To:` for the mailbox about to be written has
 *   been delivered there before and came back (a loop through another system).
 */
import type { DeliveryJob } from '@mailway/queue/jobs';
import { readHeaderFields } from '@mailway/smtp/message';
import { LoopDetected } from './outcome.js';

/** What an alias expansion sends back through `transfer`, and what it must not. */
export interface ExpansionPlan {
  /** Targets to re-inject. */
  readonly forward: readonly string[];
  /** Targets already on the path: each would close a cycle. */
  readonly looping: readonly string[];
  /** The loop guard of the re-injected job. */
  readonly hops: number;
  readonly visited: readonly string[];
}

/** Plan the expansion of `job`'s recipient into `targets`; LoopDetected when it would exceed `hopLimit`. */
export function planExpansion(job: DeliveryJob, targets: readonly string[], hopLimit: number): ExpansionPlan {
  const visited = [...(job.visited ?? []), job.recipient.address.toLowerCase()];
  const hops = (job.hops ?? 0) + 1;
  if (hops > hopLimit) throw new LoopDetected(visited, `routing loop: hop count ${hops} would exceed ${hopLimit} expanding ${visited.join(' -> ')}`);
  const forward = targets.filter((target) => !visited.includes(target.toLowerCase()));
  const looping = targets.filter((target) => visited.includes(target.toLowerCase()));
  return { forward, looping, hops, visited };
}

/** The error for the targets of a plan that would close a cycle. */
export function cycleOf(plan: ExpansionPlan): LoopDetected {
  const [first] = plan.looping;
  const path = [...plan.visited, first ?? ''];
  const rest = plan.forward.length > 0 ? `; ${plan.forward.join(', ')} sent on` : '';
  return new LoopDetected(path, `routing loop: alias expansion ${path.join(' -> ')} (${plan.looping.join(', ')} not sent round again${rest})`);
}

/** LoopDetected when the header block `header` already has `Delivered-To:` for `mailbox`. */
export function checkDeliveredTo(header: Buffer, mailbox: string, job: DeliveryJob): void {
  const wanted = mailbox.toLowerCase();
  const seen = readHeaderFields(header).some((field) => field.name.toLowerCase() === 'delivered-to' && stripBrackets(field.value).toLowerCase() === wanted);
  if (!seen) return;
  const path = [...(job.visited ?? []), job.recipient.address.toLowerCase(), wanted];
  throw new LoopDetected(path, `routing loop: the message already has Delivered-To: ${mailbox} (${path.join(' -> ')})`);
}

function stripBrackets(value: string): string {
  return value.startsWith('<') && value.endsWith('>') ? value.slice(1, -1) : value;
}
