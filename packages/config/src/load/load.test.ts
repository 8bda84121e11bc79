import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { httpSettings, logSettings, redisSettings, setting, tlsSettings } from '../schema/index.js';
import { ConfigError } from './error.js';
import { loadConfig } from './load.js';

const schema = z.object({
  redis: redisSettings,
  log: logSettings,
  submission: z.object({
    port: setting.port('SUBMISSION_PORT', 587),
    maxSize: setting.bytes('SUBMISSION_MAX_SIZE', 25 * 1024 ** 2),
    relayPassword: setting.optionalString('SUBMISSION_RELAY_PASSWORD'),
    http: httpSettings('SUBMISSION', 9101),
    tls: tlsSettings('SUBMISSION'),
  }),
});

const dir = mkdtempSync(join(tmpdir(), 'mailway-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a config file and returns its path. */
let files = 0;
function configFile(content: string): string {
  const path = join(dir, `config-${(files += 1)}.json`);
  writeFileSync(path, content);
  return path;
}

/** The ConfigError `fn` throws. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies every default when nothing is set', () => {
    expect(loadConfig(schema, { env: {} })).toEqual({
      redis: { url: 'redis://127.0.0.1:6379', prefix: 'mailway:', sentinels: [], clusterNodes: [], waitTimeout: 1000 },
      log: { level: 'info' },
      submission: {
        port: 587,
        maxSize: 25 * 1024 ** 2,
        relayPassword: undefined,
        http: { host: '127.0.0.1', port: 9101 },
        tls: { certFile: undefined, keyFile: undefined },
      },
    });
  });

  it('reads environment variables in their string form', () => {
    const config = loadConfig(schema, {
      env: { REDIS_URL: 'redis://redis:6379/2', LOG_LEVEL: 'DEBUG', SUBMISSION_PORT: '2587', SUBMISSION_MAX_SIZE: '10MB', SUBMISSION_HTTP_PORT: '0' },
    });
    expect(config.redis.url).toBe('redis://redis:6379/2');
    expect(config.log.level).toBe('debug');
    expect(config.submission.port).toBe(2587);
    expect(config.submission.maxSize).toBe(10 * 1024 ** 2);
    expect(config.submission.http.port).toBe(0);
  });

  it('overlays the environment on the file (env wins, the file beats defaults)', () => {
    const file = configFile(JSON.stringify({ log: { level: 'warn' }, submission: { port: 10587, maxSize: '1MB', http: { host: '0.0.0.0' } } }));
    const config = loadConfig(schema, { env: { SUBMISSION_PORT: '20587' }, file });
    expect(config.log.level).toBe('warn');
    expect(config.submission.port).toBe(20587);
    expect(config.submission.maxSize).toBe(1024 ** 2);
    expect(config.submission.http).toEqual({ host: '0.0.0.0', port: 9101 });
  });

  it('finds the file through MAILWAY_CONFIG unless told otherwise', () => {
    const file = configFile(JSON.stringify({ redis: { prefix: 'staging:' } }));
    expect(loadConfig(schema, { env: { MAILWAY_CONFIG: file } }).redis.prefix).toBe('staging:');
    expect(loadConfig(schema, { env: { MAILWAY_CONFIG: file }, file: null }).redis.prefix).toBe('mailway:');
  });

  it('reports every bad key at once, one line each', () => {
    const error = configError(() =>
      loadConfig(schema, { env: { SUBMISSION_PORT: '99x', LOG_LEVEL: 'loud', SUBMISSION_MAX_SIZE: 'big' } }),
    );
    expect(error.message.split('\n')).toEqual([
      'invalid configuration: LOG_LEVEL="loud" (log.level): expected one of fatal, error, warn, info, debug, trace, silent',
      'invalid configuration: SUBMISSION_PORT="99x" (submission.port): expected a port number 0-65535',
      'invalid configuration: SUBMISSION_MAX_SIZE="big" (submission.maxSize): expected a size such as 25MB, 512k, 1GiB or a number of octets',
    ]);
    expect(error.issues.map(({ key, env, source }) => ({ key, env, source }))).toEqual([
      { key: 'log.level', env: 'LOG_LEVEL', source: 'env' },
      { key: 'submission.port', env: 'SUBMISSION_PORT', source: 'env' },
      { key: 'submission.maxSize', env: 'SUBMISSION_MAX_SIZE', source: 'env' },
    ]);
  });

  it('names file keys and the file for bad file values', () => {
    const file = configFile(JSON.stringify({ submission: { port: 'smtp', tls: { certFile: 42, keyFile: '/k.pem' } }, redis: 'localhost' }));
    const error = configError(() => loadConfig(schema, { env: {}, file }));
    expect(error.message.split('\n')).toEqual([
      `invalid configuration: redis in ${file}: expected an object`,
      `invalid configuration: submission.port in ${file}: expected a port number 0-65535`,
      `invalid configuration: submission.tls.certFile in ${file}: expected a string`,
    ]);
  });

  it('reports unknown file keys so that typos are caught', () => {
    const file = configFile(JSON.stringify({ submision: { port: 25 }, submission: { prot: 25, http: { hots: 'x' } } }));
    const error = configError(() => loadConfig(schema, { env: {}, file }));
    expect(error.issues.map(({ key, source, message }) => ({ key, source, message }))).toEqual([
      { key: 'submision', source: 'file', message: 'unknown key' },
      { key: 'submission.prot', source: 'file', message: 'unknown key' },
      { key: 'submission.http.hots', source: 'file', message: 'unknown key' },
    ]);
    expect(error.message).toContain(`invalid configuration: submission.prot in ${file}: unknown key`);
  });

  it('reports an unknown key once for a strict object too', () => {
    const strict = z.strictObject({ port: setting.port('P', 1) });
    const error = configError(() => loadConfig(strict, { env: {}, file: configFile('{"prot": 2}') }));
    expect(error.issues.map((issue) => issue.key)).toEqual(['prot']);
  });

  it('never echoes secret values, but names the key', () => {
    const secrets = z.object({
      password: setting.int('SMTP_PASSWORD', 0),
      apiKey: setting.int('DKIM_PRIVATE_KEY_BITS', 2048),
      token: setting.int('WEBHOOK_SECRET', 0),
    });
    const error = configError(() =>
      loadConfig(secrets, { env: { SMTP_PASSWORD: 'hunter2', DKIM_PRIVATE_KEY_BITS: 'x', WEBHOOK_SECRET: 's3cr3t' } }),
    );
    expect(error.message.split('\n')).toEqual([
      'invalid configuration: SMTP_PASSWORD=*** (password): expected an integer',
      'invalid configuration: DKIM_PRIVATE_KEY_BITS=*** (apiKey): expected an integer',
      'invalid configuration: WEBHOOK_SECRET=*** (token): expected an integer',
    ]);
    expect(error.issues.map((issue) => issue.value)).toEqual(['***', '***', '***']);
    expect(error.message).not.toContain('hunter2');
    expect(error.message).not.toContain('s3cr3t');
  });

  it('names both variables when only one TLS file is set', () => {
    const error = configError(() => loadConfig(schema, { env: { SUBMISSION_TLS_CERT: '/etc/cert.pem' } }));
    expect(error.issues).toEqual([
      {
        key: 'submission.tls',
        env: null,
        source: 'env',
        message: 'set both SUBMISSION_TLS_CERT and SUBMISSION_TLS_KEY (certFile and keyFile), or neither',
      },
    ]);
    expect(loadConfig(schema, { env: { SUBMISSION_TLS_CERT: '/c.pem', SUBMISSION_TLS_KEY: '/k.pem' } }).submission.tls).toEqual({
      certFile: '/c.pem',
      keyFile: '/k.pem',
    });
  });

  it('says when a setting without a default is missing', () => {
    const required = z.object({ relay: z.object({ smarthost: z.string().meta({ env: 'RELAY_SMARTHOST' }) }) });
    const error = configError(() => loadConfig(required, { env: {} }));
    expect(error.message).toBe('invalid configuration: relay.smarthost (RELAY_SMARTHOST): required but not set');
    expect(loadConfig(required, { env: { RELAY_SMARTHOST: 'mx.example' } }).relay.smarthost).toBe('mx.example');
  });

  it('leaves an optional section absent unless something in it is set', () => {
    const optional = z.object({ dkim: z.object({ selector: setting.string('DKIM_SELECTOR', 'mail') }).optional() });
    expect(loadConfig(optional, { env: {} })).toEqual({});
    expect(loadConfig(optional, { env: { DKIM_SELECTOR: 's1' } })).toEqual({ dkim: { selector: 's1' } });
  });

  it.each([
    ['a missing file', null, /: cannot read the file: no such file or directory \(ENOENT\)$/],
    ['invalid JSON', '{"submission": ', /: not valid JSON: /],
    ['a JSON array', '[1, 2]', /: expected a JSON object at the top level$/],
  ])('names the file and the problem for %s', (_name, content, pattern) => {
    const file = content === null ? join(dir, 'missing.json') : configFile(content);
    const error = configError(() => loadConfig(schema, { env: {}, file }));
    expect(error.message).toMatch(new RegExp(`^invalid configuration: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(error.message).toMatch(pattern);
    expect(error.issues).toHaveLength(1);
    expect(error.file).toBe(file);
  });
});
