import { describe, expect, it } from 'vitest';
import { gatewayTextMaxLength, redactGatewayText } from './gateway-text.js';

const secret = 'xcanary-Y8Kteew6GE2Zmey/cEt6egg==';
const key = 'xcanary0f14ebcab0ec4b29ae0cb90d91b4a84a';

describe('redactGatewayText', () => {
  it('should replace every secret, as sent and as a server echoes it encoded', () => {
    const echoes = [secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2), JSON.stringify(secret)];
    for (const echo of echoes) {
      expect(redactGatewayText(`Denied ${echo} and ${key}`, [secret, key])).toMatch(/^Denied "?\[redacted\]"? and \[redacted\]$/);
    }
  });

  it('should replace a run of 8 or more of a secret’s characters, such as a secret cut short', () => {
    expect(redactGatewayText(`key ${key.slice(0, 12)}… is invalid`, [key])).toBe('key [redacted]… is invalid');
    expect(redactGatewayText(`tail ${secret.slice(-9)}`, [secret])).toBe('tail [redacted]');
    // Seven characters are not a secret: the text stays readable.
    expect(redactGatewayText('xcanary is not a secret', [key])).toBe('xcanary is not a secret');
  });

  it('should escape control characters and line separators, so a log line cannot be forged', () => {
    expect(redactGatewayText('bad\r\nX-Forged: 1\u2028\u001b[31m', [])).toBe('bad\\u000d\\u000aX-Forged: 1\\u2028\\u001b[31m');
  });

  it('should cut a long text and say how long it was, never cutting into a secret it leaves unredacted', () => {
    const text = `${'a'.repeat(gatewayTextMaxLength - 5)}${key}`;
    const safe = redactGatewayText(text, [key]);
    expect(safe).toBe(`${'a'.repeat(gatewayTextMaxLength - 5)}[reda… (${text.length} characters)`);
    expect(redactGatewayText('x'.repeat(40), [], 10)).toBe(`${'x'.repeat(10)}… (40 characters)`);
  });

  it('should ignore empty secrets and leave text without secrets as it is', () => {
    expect(redactGatewayText('Unauthorized', ['', key])).toBe('Unauthorized');
  });
});
