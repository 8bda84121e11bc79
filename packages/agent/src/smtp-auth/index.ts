/**
 * @module @mailway/agent/smtp-auth
 *
 * SMTP AUTH for every agent that offers it (submission on 587/465, the relay on 25): the onAuth
 * hook, which checks a login against the directory under failed-login limits kept in Redis and
 * shared by every agent and every instance of it.
 */
export { type AuthCounter, type AuthHookPolicy, type AuthLog, type LimitCounter, smtpAuthHook } from './hook.js';
export { type Admission, type AuthLimiter, type AuthLimits, type LimitKind, type LoginAttempt, type LoginOutcome, checkLogin, createAuthLimiter } from './login-limits.js';
