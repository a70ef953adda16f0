import { describe, expect, it } from 'vitest';
import { runDemo } from './demo.js';

describe('multi-merchant demo', () => {
  it('should keep every merchant calling through refreshes, extensions, an outage, a rotation and an offboarding', async () => {
    const lines: string[] = [];
    const rows = await runDemo({ durationMs: 15_000, log: (line) => lines.push(line) });
    const row = (merchant: string) => rows.find((candidate) => candidate.merchant === merchant)!;

    expect(rows.map((candidate) => candidate.merchant)).toEqual(['shop-seoul', 'shop-busan', 'shop-oslo', 'shop-seoul-v2', 'shop-paypal']);
    for (const summary of rows) {
      expect(summary.errors).toBe(0);
      expect(summary.calls).toBeGreaterThan(100);
      expect(summary.tokenRequests).toBe(summary.gatewayTokenRequests);
    }
    for (const merchant of ['shop-seoul', 'shop-busan']) {
      // One token for the whole run: extended in i'mport's window, never re-issued, and served through the outage.
      expect(row(merchant).newTokens).toBe(1);
      expect(row(merchant).extended).toBeGreaterThanOrEqual(1);
      expect(row(merchant).servedStale).toBeGreaterThanOrEqual(1);
    }
    // Rotated (a new token on the new secret, the old secret never tried after its revocation), then offboarded.
    expect(row('shop-oslo').newTokens).toBeGreaterThanOrEqual(2);
    expect(row('shop-oslo').refused).toBeGreaterThanOrEqual(1);
    expect(row('shop-seoul').refused).toBe(0);
    expect(lines.some((line) => line.includes('!! shop-oslo: secret rotated'))).toBe(true);
    expect(lines.some((line) => line.includes('!! shop-oslo: offboarded'))).toBe(true);
    expect(lines.some((line) => /shop-oslo call refused: .*Unknown merchant id "shop-oslo".*X_UNKNOWN_MERCHANT/.test(line))).toBe(true);
    expect(lines.find((line) => line.startsWith("shop-oslo's secrets at Vipps"))).toMatch(
      /\(0 after its revocation\), the new one in [1-9]/,
    );
    expect(row('shop-oslo').servedStale).toBe(0);

    expect(lines.some((line) => line.includes("!! i'mport's token endpoint goes down (503)"))).toBe(true);
    expect(lines.some((line) => line.includes("!! i'mport's token endpoint is back"))).toBe(true);
    expect(lines.some((line) => /shop-seoul +refresh failed: calls go on with token [0-9a-f]{8}/.test(line))).toBe(true);
    expect(lines.some((line) => /gateway clock 9\.0 h off ours/.test(line))).toBe(true);
    // Secrets and tokens hold the canary mark: none may reach the demo's output.
    expect(lines.filter((line) => line.includes('xcanary'))).toEqual([]);
    const table = lines.at(-1)!.split('\n');
    expect(table[0]).toMatch(/^merchant +gateway +calls +errors +refused +token requests/);
    expect(table.slice(2).map((line) => line.split(/ +/)[0])).toEqual([
      'shop-seoul',
      'shop-busan',
      'shop-oslo',
      'shop-seoul-v2',
      'shop-paypal',
    ]);
    // PortOne V2: one login, then refreshes that rotate the refresh token; PayPal: new tokens as they run out.
    expect(lines.find((line) => line.startsWith('shop-seoul-v2 at PortOne V2'))).toMatch(/: 1 login, [1-9]\d* refreshes, 0 spent/);
    expect(row('shop-paypal').newTokens).toBeGreaterThanOrEqual(2);
  });
});
