import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { setting } from './setting.js';

/** Parses one value (undefined = unset) through a builder's schema. */
const parse = (schema: z.ZodType, value: unknown) => schema.safeParse(value);

type Row = [name: string, schema: z.ZodType, input: unknown, expected: unknown];

const good: Row[] = [
  ['string', setting.string('S', 'dflt'), 'hello world', 'hello world'],
  ['string empty', setting.string('S', 'dflt'), '', ''],
  ['string default', setting.string('S', 'dflt'), undefined, 'dflt'],
  ['optionalString', setting.optionalString('O'), '/etc/cert.pem', '/etc/cert.pem'],
  ['optionalString empty', setting.optionalString('O'), '', undefined],
  ['optionalString null in file', setting.optionalString('O'), null, undefined],
  ['optionalString unset', setting.optionalString('O'), undefined, undefined],
  ['int', setting.int('I', 5), '42', 42],
  ['int signed, padded', setting.int('I', 5), ' -7 ', -7],
  ['int native', setting.int('I', 5), 12, 12],
  ['int default', setting.int('I', 5), undefined, 5],
  ['int at range edge', setting.int('I', 5, { min: 1, max: 10 }), '10', 10],
  ['port', setting.port('P', 25), '587', 587],
  ['port zero', setting.port('P', 25), '0', 0],
  ['port max', setting.port('P', 25), 65535, 65535],
  ['bool true', setting.bool('B', false), 'true', true],
  ['bool YES', setting.bool('B', false), 'YES', true],
  ['bool On', setting.bool('B', false), 'On', true],
  ['bool 1', setting.bool('B', false), '1', true],
  ['bool False', setting.bool('B', true), 'False', false],
  ['bool no', setting.bool('B', true), 'no', false],
  ['bool off', setting.bool('B', true), 'off', false],
  ['bool 0', setting.bool('B', true), '0', false],
  ['bool native', setting.bool('B', true), false, false],
  ['bool default', setting.bool('B', true), undefined, true],
  ['list', setting.list('L', []), ' a.example , b.example,,', ['a.example', 'b.example']],
  ['list empty', setting.list('L', ['x']), '', []],
  ['list native', setting.list('L', []), ['a', 'b'], ['a', 'b']],
  ['list default', setting.list('L', ['x']), undefined, ['x']],
  ['oneOf', setting.oneOf('E', ['maildir', 'mbox'], 'maildir'), 'mbox', 'mbox'],
  ['oneOf any case', setting.oneOf('E', ['maildir', 'mbox'], 'maildir'), ' MBox ', 'mbox'],
  ['oneOf default', setting.oneOf('E', ['maildir', 'mbox'], 'maildir'), undefined, 'maildir'],
  ['bytes plain', setting.bytes('Z', 1), '1000', 1000],
  ['bytes B', setting.bytes('Z', 1), '100B', 100],
  ['bytes k', setting.bytes('Z', 1), '512k', 512 * 1024],
  ['bytes MB', setting.bytes('Z', 1), '25MB', 25 * 1024 ** 2],
  ['bytes GiB', setting.bytes('Z', 1), '1GiB', 1024 ** 3],
  ['bytes spaced fraction', setting.bytes('Z', 1), '1.5 m', 1.5 * 1024 ** 2],
  ['bytes native', setting.bytes('Z', 1), 2048, 2048],
  ['bytes string in file', setting.bytes('Z', 1), '10M', 10 * 1024 ** 2],
  ['bytes default', setting.bytes('Z', 4096), undefined, 4096],
  ['duration ms', setting.duration('D', 1), '250ms', 250],
  ['duration s', setting.duration('D', 1), '30s', 30_000],
  ['duration m', setting.duration('D', 1), '5m', 300_000],
  ['duration h', setting.duration('D', 1), '1h', 3_600_000],
  ['duration d', setting.duration('D', 1), '2d', 172_800_000],
  ['duration fraction', setting.duration('D', 1), '1.5s', 1500],
  ['duration plain', setting.duration('D', 1), '1200', 1200],
  ['duration native', setting.duration('D', 1), 600, 600],
  ['duration default', setting.duration('D', 9), undefined, 9],
  ['duration at the minimum', setting.duration('D', 60_000, { min: '1s' }), '1s', 1000],
];

const bad: Row[] = [
  ['string given a number', setting.string('S', 'x'), 5, 'expected a string'],
  ['optionalString given a number', setting.optionalString('O'), 5, 'expected a string'],
  ['int with junk', setting.int('I', 5), '12x', 'expected an integer'],
  ['int fraction', setting.int('I', 5), '1.5', 'expected an integer'],
  ['int hex', setting.int('I', 5), '0x10', 'expected an integer'],
  ['int empty', setting.int('I', 5), '', 'expected an integer'],
  ['int below min', setting.int('I', 5, { min: 1, max: 10 }), '0', 'expected an integer from 1 to 10'],
  ['int above max', setting.int('I', 5, { min: 1, max: 10 }), 11, 'expected an integer from 1 to 10'],
  ['int below min only', setting.int('I', 5, { min: 1 }), '0', 'expected an integer of at least 1'],
  ['int above max only', setting.int('I', 5, { max: 3 }), '4', 'expected an integer of at most 3'],
  ['port with junk', setting.port('P', 25), '99x', 'expected a port number 0-65535'],
  ['port too big', setting.port('P', 25), '65536', 'expected a port number 0-65535'],
  ['port negative', setting.port('P', 25), '-1', 'expected a port number 0-65535'],
  ['bool maybe', setting.bool('B', false), 'maybe', 'expected true or false (or yes/no, on/off, 1/0)'],
  ['bool empty', setting.bool('B', false), '', 'expected true or false (or yes/no, on/off, 1/0)'],
  ['bool number in file', setting.bool('B', false), 1, 'expected true or false (or yes/no, on/off, 1/0)'],
  ['list of numbers in file', setting.list('L', []), [1, 2], 'expected a comma-separated list (an array of strings in the file)'],
  ['list object in file', setting.list('L', []), { a: 1 }, 'expected a comma-separated list (an array of strings in the file)'],
  ['oneOf unknown', setting.oneOf('E', ['maildir', 'mbox'], 'maildir'), 'mh', 'expected one of maildir, mbox'],
  ['bytes unit unknown', setting.bytes('Z', 1), '5XB', 'expected a size such as 25MB, 512k, 1GiB or a number of octets'],
  ['bytes negative', setting.bytes('Z', 1), '-5', 'expected a size such as 25MB, 512k, 1GiB or a number of octets'],
  ['bytes fraction in file', setting.bytes('Z', 1), 1.5, 'expected a size such as 25MB, 512k, 1GiB or a number of octets'],
  ['bytes iB without unit', setting.bytes('Z', 1), '5iB', 'expected a size such as 25MB, 512k, 1GiB or a number of octets'],
  ['duration unit unknown', setting.duration('D', 1), '5w', 'expected a duration such as 250ms, 30s, 5m, 1h, 2d or a number of milliseconds'],
  ['duration bare fraction', setting.duration('D', 1), '1.5', 'expected a duration such as 250ms, 30s, 5m, 1h, 2d or a number of milliseconds'],
  ['duration negative', setting.duration('D', 1), '-1s', 'expected a duration such as 250ms, 30s, 5m, 1h, 2d or a number of milliseconds'],
  ['duration below the minimum', setting.duration('D', 60_000, { min: '1s' }), '999ms', 'expected a duration of at least 1s such as 250ms, 30s, 5m, 1h, 2d or a number of milliseconds'],
];

describe('setting builders', () => {
  // Rows reordered so that the title shows the input rather than the schema.
  it.each(good.map(([name, schema, input, expected]) => [name, input, expected, schema] as const))('%s: accepts %j', (_name, input, expected, schema) => {
    expect(parse(schema, input)).toEqual({ success: true, data: expected });
  });

  it.each(bad.map(([name, schema, input, message]) => [name, input, message, schema] as const))('%s: rejects %j', (_name, input, message, schema) => {
    const result = parse(schema, input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([message]);
  });
});
