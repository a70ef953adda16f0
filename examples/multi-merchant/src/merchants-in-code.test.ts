import { describe, expect, it } from 'vitest';
import { runMerchantsInCode } from './merchants-in-code.js';

describe('merchants-in-code example', () => {
  it('should call the three typed merchants on one token per credential', async () => {
    const lines: string[] = [];
    await runMerchantsInCode((line) => lines.push(line));
    expect(lines.slice(0, 3)).toEqual([
      'shop-seoul GET /payments/imp_448280090638 -> 200',
      'shop-busan GET /payments/imp_448280090639 -> 200',
      'shop-oslo GET /epayment/v1/payments/order-1 -> 200',
    ]);
    expect(lines.at(-1)).toBe('token requests: iamport 2, vipps 1');
    // Secrets and tokens hold the canary mark: none may reach the output.
    expect(lines.filter((line) => line.includes('xcanary'))).toEqual([]);
  });
});
