import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import {
  baseUrlProblem,
  checkProviderSettings,
  isLoopbackHostname,
  merchantIdProblem,
  ownSettings,
  printableName,
  settingLimits,
} from './settings-checks.js';

describe('baseUrlProblem', () => {
  it.each([
    ['https://api.iamport.kr'],
    ['https://api.iamport.kr/'],
    ['https://API.iamport.kr:8443'],
    ['http://127.0.0.1:8080'],
    ['http://127.8.9.10'],
    ['http://localhost:3000'],
    ['http://[::1]:3000'],
  ])('should accept %s', (value) => {
    expect(baseUrlProblem(value)).toBeUndefined();
  });

  it.each([
    ['not a URL', 'api.iamport.kr', 'must be an absolute URL'],
    ['a file: URL', 'file:///etc/passwd', 'must be an http(s) URL'],
    ['a javascript: URL', 'javascript:alert(1)', 'must be an http(s) URL'],
    ['a data: URL', 'data:text/plain,x', 'must be an http(s) URL'],
    ['an ftp: URL', 'ftp://api.iamport.kr', 'must be an http(s) URL'],
    ['a user and password', 'https://user:pass@api.iamport.kr', 'must not contain credentials'],
    ['a user only', 'https://user@api.iamport.kr', 'must not contain credentials'],
    ['a path', 'https://api.iamport.kr/v2', 'must be an origin, without path, query or fragment'],
    ['a query', 'https://api.iamport.kr/?token=1', 'must be an origin, without path, query or fragment'],
    ['an empty query', 'https://api.iamport.kr/?', 'must be an origin, without path, query or fragment'],
    ['a fragment', 'https://api.iamport.kr/#x', 'must be an origin, without path, query or fragment'],
    ['an empty fragment', 'https://api.iamport.kr#', 'must be an origin, without path, query or fragment'],
    ['a line break (URL parsing would drop it)', 'https://api.iamport.kr\n', 'must not contain whitespace or control characters'],
    ['a tab inside', 'https://api.\tiamport.kr', 'must not contain whitespace or control characters'],
    ['a leading space', ' https://api.iamport.kr', 'must not contain whitespace or control characters'],
    ['a NUL', 'https://api.iamport.kr\u0000', 'must not contain whitespace or control characters'],
    ['over 2048 characters', `https://${'a'.repeat(2048)}.kr`, 'must be at most 2048 characters'],
  ])('should refuse %s', (_name, value, message) => {
    expect(baseUrlProblem(value)).toBe(message);
  });

  it.each([
    'http://api.iamport.kr',
    'http://10.0.0.1',
    'http://192.168.1.1',
    'http://[::ffff:127.0.0.1]',
    'http://localhost.evil.example',
    'http://127.0.0.1.evil.example',
  ])('should refuse plain http to %s, which is not a loopback host', (value) => {
    expect(baseUrlProblem(value)).toMatch(/^must use https \(http is allowed for loopback hosts only/);
  });

  it('should never quote the value it refuses', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (value) => {
        const canary = `${value}xcanary`;
        const problem = baseUrlProblem(canary);
        return problem === undefined || !problem.includes('xcanary');
      }),
    );
  });
});

describe('isLoopbackHostname', () => {
  it('should know the loopback hosts as URL normalises them, and nothing else', () => {
    expect(isLoopbackHostname(new URL('http://127.1').hostname)).toBe(true);
    expect(isLoopbackHostname(new URL('http://0x7f000001').hostname)).toBe(true);
    expect(isLoopbackHostname(new URL('http://[0:0:0:0:0:0:0:1]').hostname)).toBe(true);
    expect(isLoopbackHostname(new URL('http://LOCALHOST').hostname)).toBe(true);
    expect(isLoopbackHostname(new URL('http://128.0.0.1').hostname)).toBe(false);
    expect(isLoopbackHostname(new URL('http://0.0.0.0').hostname)).toBe(false);
  });
});

describe('merchantIdProblem', () => {
  it.each(['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf', '__defineGetter__'])(
    'should refuse the reserved name %s',
    (merchantId) => {
      expect(merchantIdProblem(merchantId)).toMatch(/reserved name/);
    },
  );

  it('should refuse empty, over-long, control-character and padded ids and accept ordinary ones', () => {
    expect(merchantIdProblem('')).toMatch(/empty/);
    expect(merchantIdProblem('m'.repeat(settingLimits.merchantIdMaxLength))).toBeUndefined();
    expect(merchantIdProblem('m'.repeat(settingLimits.merchantIdMaxLength + 1))).toMatch(/at most 128/);
    expect(merchantIdProblem('shop\nkr')).toMatch(/control characters/);
    expect(merchantIdProblem('shop\u0085kr')).toMatch(/control characters/);
    expect(merchantIdProblem(' shop-kr')).toMatch(/whitespace/);
    expect(merchantIdProblem('shop-kr')).toBeUndefined();
    expect(merchantIdProblem('상점-서울')).toBeUndefined();
  });
});

describe('printableName', () => {
  it('should escape control characters and cut long names', () => {
    expect(printableName('shop\r\nkr')).toBe('shop\\u000d\\u000akr');
    expect(printableName('m'.repeat(1_000_000))).toBe(`${'m'.repeat(128)}… (1000000 characters)`);
  });
});

describe('ownSettings', () => {
  it('should copy own properties only, into an object without a prototype, leaving out reserved keys', () => {
    const inherited = Object.create({ baseUrl: 'http://evil.example' }) as Record<string, unknown>;
    inherited.impKey = 'key';
    expect({ ...ownSettings(inherited) }).toEqual({ impKey: 'key' });
    const parsed = JSON.parse('{"impKey":"key","__proto__":{"baseUrl":"http://evil.example"},"constructor":1}');
    const copy = ownSettings(parsed)!;
    expect(Object.getPrototypeOf(copy)).toBeNull();
    expect(Object.keys(copy)).toEqual(['impKey']);
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { impKey: 'key' });
    expect({ ...ownSettings(bare) }).toEqual({ impKey: 'key' });
    expect(ownSettings([1, 2])).toBeUndefined();
    expect(ownSettings('settings')).toBeUndefined();
    expect(ownSettings(null)).toBeUndefined();
  });
});

describe('checkProviderSettings', () => {
  const schema = v.object({ key: v.pipe(v.string('must be a string'), v.nonEmpty('must not be empty')), region: v.optional(v.string()) });

  it('should hand back the schema output and the validated own copy for usable settings', () => {
    const inherited = Object.assign(Object.create({ region: 'inherited' }), { key: 'k' });
    const check = checkProviderSettings(schema, inherited);
    expect(check.issues).toEqual([]);
    expect(check.output).toEqual({ key: 'k' });
    expect(check.own).toEqual({ key: 'k' });
  });

  it('should report a missing key as required, a reserved key, and the schema messages, with no output', () => {
    const settings = JSON.parse('{"__proto__": {"polluted": true}, "region": 5}');
    const check = checkProviderSettings(schema, settings);
    expect(check.issues).toEqual([
      { path: '__proto__', message: expect.stringContaining('reserved') },
      { path: 'key', message: 'required' },
      { path: 'region', message: expect.any(String) },
    ]);
    expect(check.output).toBeUndefined();
    expect(checkProviderSettings(schema, { key: '' }).issues).toEqual([{ path: 'key', message: 'must not be empty' }]);
    expect(checkProviderSettings(schema, 'key=k')).toEqual({ issues: [{ path: '', message: 'must be an object' }] });
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('should report every unknown key, with a did-you-mean for a near miss, and never quote a value', () => {
    const hostile = `x\r\n${'y'.repeat(500)}`;
    const settings = { key: 'k', Key: 'xcanary-1', regoin: 'xcanary-2', re_gion: 'xcanary-3', colour: 'xcanary-4', [hostile]: 'xcanary-5' };
    const check = checkProviderSettings(schema, settings);
    expect(check.issues).toEqual([
      { path: 'Key', message: 'unknown setting; did you mean "key"?' },
      { path: 'regoin', message: 'unknown setting; did you mean "region"?' },
      { path: 're_gion', message: 'unknown setting; did you mean "region"?' },
      { path: 'colour', message: 'unknown setting; the settings are: key, region' },
      { path: `x\\u000d\\u000a${'y'.repeat(61)}… (503 characters)`, message: 'unknown setting; the settings are: key, region' },
    ]);
    expect(check.output).toBeUndefined();
    expect(JSON.stringify(check.issues)).not.toContain('xcanary');
    // An unknown key is refused even when its value is undefined: `baseURL: process.env.UNSET` is still a typo.
    expect(checkProviderSettings(schema, { key: 'k', Region: undefined }).issues).toEqual([
      { path: 'Region', message: 'unknown setting; did you mean "region"?' },
    ]);
  });
});
