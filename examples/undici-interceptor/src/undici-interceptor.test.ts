import { describe, expect, it } from 'vitest';
import { runUndiciInterceptor } from './undici-interceptor.js';

describe('undici interceptor example', () => {
  it('should authenticate every undici request, through the dispatcher and the interceptor, and refuse other origins', async () => {
    const lines: string[] = [];
    await runUndiciInterceptor((line) => lines.push(line));
    expect(lines.filter((line) => /^call \d: iamport 200, vipps 200$/.test(line))).toHaveLength(3);
    expect(lines).toContain('iamport request to another origin: refused before sending (ForeignOriginError)');
    expect(lines).toContain('vipps request to another origin: refused before sending (ForeignOriginError)');
    expect(lines).toContain('iamport: 1 token request(s), 3 API calls');
    expect(lines).toContain('vipps: 1 token request(s), 3 API calls');
    // The emulators' secrets and tokens hold the canary mark: none may reach the output.
    expect(lines.filter((line) => line.includes('xcanary'))).toEqual([]);
  });
});
