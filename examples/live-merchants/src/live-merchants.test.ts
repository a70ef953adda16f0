import { describe, expect, it } from 'vitest';
import { runLiveMerchants } from './live-merchants.js';

describe('live merchants example', () => {
  it('should resolve from the database once, rotate with no call lost, and refuse an offboarded merchant', async () => {
    const lines: string[] = [];
    await runLiveMerchants((line) => lines.push(line));
    expect(lines).toEqual([
      'merchants from a database: 10 calls -> 200',
      '  database queries: 1, token requests: 1',
      '  an id the database does not have: X_UNKNOWN_MERCHANT',
      'rotating a secret: the call after the revocation -> 200',
      '  token requests with the old secret after its revocation: 1, with the new one: 1; database queries: 3',
      'offboarding a merchant: a call through the fetch handed out before -> X_UNKNOWN_MERCHANT',
      '  API calls that reached the gateway after the removal: 0',
    ]);
  });
});
