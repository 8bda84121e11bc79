import { describe, expect, it } from 'vitest';
import { parseExtensions } from './extensions.js';

describe('parseExtensions', () => {
  it('reads keywords, parameters and typed flags', () => {
    const ext = parseExtensions({
      code: 250,
      enhanced: null,
      lines: ['mx.example hello', 'PIPELINING', 'SIZE 35882577', '8BITMIME', 'smtputf8', 'ENHANCEDSTATUSCODES', 'DSN', 'CHUNKING', 'BINARYMIME', 'STARTTLS', 'AUTH PLAIN login', 'AUTH=XOAUTH2', 'REQUIRETLS', ''],
    });
    expect(ext).toMatchObject({ size: 35882577, pipelining: true, eightBitMime: true, smtpUtf8: true, enhancedStatusCodes: true, dsn: true, chunking: true, binaryMime: true, startTls: true, requireTls: true });
    expect(ext.auth).toEqual(['PLAIN', 'LOGIN', 'XOAUTH2']);
    expect(ext.keywords.get('SIZE')).toEqual(['35882577']);
  });

  it('SIZE without a number means no fixed limit; absent means not offered', () => {
    expect(parseExtensions({ code: 250, enhanced: null, lines: ['x', 'SIZE'] }).size).toBe(0);
    expect(parseExtensions({ code: 250, enhanced: null, lines: ['x'] }).size).toBeNull();
    expect(parseExtensions(null)).toMatchObject({ pipelining: false, auth: [] });
  });

});
