import { createCanary } from '@x/core/testing';
import { describe, expect, it } from 'vitest';
import { takeGuardLeaks, takeUnhandled } from './canary-guard.js';

describe('the canary guard (setup file of every test project)', () => {
  it('should catch a rejection left unhandled, which its own listener would hide from Vitest', async () => {
    void Promise.reject(new RangeError('left unhandled'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(takeUnhandled()).toMatch(/^unhandledRejection: RangeError: left unhandled/);
    expect(takeUnhandled()).toBeUndefined();
  });

  it('should catch a canary written to the console, stdout or stderr, and nothing else', () => {
    const token = createCanary();
    takeGuardLeaks();
    console.info('no secret here');
    console.warn({ nested: { value: token } });
    process.stderr.write(`token=${token}\n`);
    const leaks = takeGuardLeaks();
    expect(leaks.map((leak) => leak.label)).toEqual(['console.warn', 'process.stderr.write']);
    expect(JSON.stringify(leaks)).not.toContain(token);
  });
});
