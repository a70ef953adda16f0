import { describe, expect, it } from 'vitest';
import { type CanaryLeak, CanaryScanner, canaryMarker, containsCanary, createCanary, maskCanaries } from './canary.js';

describe('createCanary', () => {
  it('should make fresh values holding the marker', () => {
    const first = createCanary('token-', 33);
    expect(first).toMatch(/^token-xcanary[0-9a-f]{33}$/);
    expect(createCanary()).not.toBe(createCanary());
    expect(containsCanary(`Bearer ${first}`)).toBe(true);
    expect(maskCanaries(`Bearer ${first} ok`)).toBe('Bearer token-[canary] ok');
  });
});

describe('CanaryScanner', () => {
  it('should find a canary anywhere an error can be logged: message, stack, cause chain, hidden fields, JSON', () => {
    const token = createCanary();
    const found = (value: unknown): string[] => {
      const scanner = new CanaryScanner();
      scanner.scan('value', value);
      return [...new Set(scanner.leaks.map((leak) => leak.form))];
    };
    expect(found(new Error(`token ${token}`))).toContain('cause[0].message');
    expect(found(new Error('outer', { cause: new Error('middle', { cause: new Error(token) }) }))).toContain('cause[2].message');
    expect(found(new AggregateError([new Error(token)], 'many'))).toContain('cause[0].errors[0] cause[0].message');
    const hidden = new Error('hidden');
    Object.defineProperty(hidden, 'token', { value: token, enumerable: false });
    expect(found(hidden)).toEqual(['util.inspect']);
    expect(found({ toJSON: () => ({ token }) })).toEqual(['JSON.stringify']);
    expect(found({ deep: { deeper: { deepest: { token } } } })).toContain('util.inspect');
    expect(found(new Error('clean'))).toEqual([]);
  });

  it('should scan an AggregateError that holds itself once, without running out of stack', () => {
    const scanner = new CanaryScanner();
    const error = new AggregateError([], `many ${createCanary()}`);
    Object.defineProperty(error, 'errors', { value: [error] });
    scanner.scan('self-holding', error);
    expect(scanner.leaks.map((leak) => leak.form)).toContain('cause[0].message');
  });

  it('should find secrets given by value, count items and mask every canary in its report', () => {
    const scanner = new CanaryScanner(['plain-secret']);
    scanner.scan('a', { header: 'Bearer plain-secret' });
    scanner.scan('b', `${canaryMarker}abc and plain-secret`);
    scanner.scan('c', 'nothing here');
    expect(scanner.count).toBe(3);
    expect(scanner.forms).toBeGreaterThanOrEqual(9);
    expect(new Set(scanner.leaks.map((leak) => leak.label))).toEqual(new Set(['a', 'b']));
    for (const leak of scanner.leaks) {
      expect(leak.excerpt).not.toContain('plain-secret');
      expect(leak.excerpt).not.toContain(canaryMarker);
    }
  });

  it('should scan what a promise settles with, except a token, gateway data or a Response, and never throw', async () => {
    const token = createCanary();
    const scanner = new CanaryScanner();
    const failure = new Error(`failed with ${token}`);
    expect(await scanner.scanSettled('rejected', Promise.reject(failure))).toBe(failure);
    expect(await scanner.scanSettled('resolved', Promise.resolve({ token }))).toEqual({ token });
    await scanner.scanSettled('token', Promise.resolve(token), { isToken: true });
    await scanner.scanSettled('gateway data', Promise.resolve(token), { isGatewayData: true });
    await scanner.scanSettled('response', Promise.resolve(new Response(token, { headers: { 'x-token': token } })));
    expect(scanner.count).toBe(2);
    expect(new Set(scanner.leaks.map((leak) => leak.label))).toEqual(new Set(['rejected: error', 'resolved: value']));
  });

  it('should hand out each leak once, so each test shows only its own', () => {
    const scanner = new CanaryScanner();
    const labels = (leaks: CanaryLeak[]): string[] => [...new Set(leaks.map((leak) => leak.label))];
    scanner.scan('first', createCanary());
    expect(labels(scanner.takeLeaks())).toEqual(['first']);
    expect(scanner.takeLeaks()).toEqual([]);
    scanner.scan('second', createCanary());
    expect(labels(scanner.takeLeaks())).toEqual(['second']);
    expect(labels(scanner.leaks)).toEqual(['first', 'second']);
  });
});
