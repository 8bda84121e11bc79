/**
 * The admin API's settings, validated once where it starts: where it listens (off unless
 * MAILWAY_ADMIN_PORT is set) and the bearer token every API request must carry. A port without
 * a token is refused at start-up: the API can delete and return mail.
 */
import { z } from 'zod';
import { setting } from '@mailway/config/schema';

/** Shortest token taken: a guessable one would be no lock at all. */
export const minTokenLength = 16;

export const adminSettings = z
  .object({
    host: setting.string('MAILWAY_ADMIN_HOST', '127.0.0.1'),
    /** 0 (the default): no admin API. */
    port: setting.port('MAILWAY_ADMIN_PORT', 0),
    token: setting.optionalString('MAILWAY_ADMIN_TOKEN'),
  })
  .superRefine((admin, context) => {
    if (admin.port === 0) return;
    if (admin.token === undefined) context.addIssue({ code: 'custom', path: ['token'], message: 'MAILWAY_ADMIN_TOKEN must be set when MAILWAY_ADMIN_PORT is: the admin API is never served without a token' });
    else if (admin.token.length < minTokenLength) context.addIssue({ code: 'custom', path: ['token'], message: `MAILWAY_ADMIN_TOKEN must be at least ${minTokenLength} characters` });
  });
export type AdminSettings = z.infer<typeof adminSettings>;
