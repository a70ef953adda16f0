import { describe, expect, it } from 'vitest';
import { decideIamportToken, iamportTokenRules } from './iamport-token-rules.js';

const minute = 60_000;
const now = 1_700_000_000_000;

describe('decideIamportToken', () => {
  it('should issue a 30-minute token when there is none', () => {
    expect(decideIamportToken(undefined, now, iamportTokenRules)).toEqual({ action: 'issue', expiresAt: now + 30 * minute });
  });

  it('should issue a new token at and after expiry', () => {
    expect(decideIamportToken(now, now, iamportTokenRules)).toEqual({ action: 'issue', expiresAt: now + 30 * minute });
    expect(decideIamportToken(now - 1, now, iamportTokenRules).action).toBe('issue');
  });

  it('should reuse the token, expiry unchanged, before its last minute', () => {
    expect(decideIamportToken(now + 5 * minute, now, iamportTokenRules)).toEqual({ action: 'reuse', expiresAt: now + 5 * minute });
    expect(decideIamportToken(now + minute + 1, now, iamportTokenRules).action).toBe('reuse');
  });

  it('should extend the expiry by 5 minutes within the last minute, its edge included', () => {
    expect(decideIamportToken(now + minute, now, iamportTokenRules)).toEqual({ action: 'extend', expiresAt: now + 6 * minute });
    expect(decideIamportToken(now + 1, now, iamportTokenRules)).toEqual({ action: 'extend', expiresAt: now + 1 + 5 * minute });
  });

  it('should apply shortened rules', () => {
    const rules = { tokenLifetimeMs: 4_000, extensionWindowMs: 1_000, extensionMs: 2_000 };
    expect(decideIamportToken(undefined, now, rules)).toEqual({ action: 'issue', expiresAt: now + 4_000 });
    expect(decideIamportToken(now + 500, now, rules)).toEqual({ action: 'extend', expiresAt: now + 2_500 });
    expect(decideIamportToken(now + 1_001, now, rules)).toEqual({ action: 'reuse', expiresAt: now + 1_001 });
  });
});
