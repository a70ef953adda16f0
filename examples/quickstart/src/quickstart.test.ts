import { describe, expect, it } from 'vitest';
import { runQuickstart } from './quickstart.js';

describe('quickstart example', () => {
  it('should make three calls on one token', async () => {
    const lines: string[] = [];
    await runQuickstart((line) => lines.push(line));
    expect(lines.filter((line) => line.startsWith('token requested'))).toEqual(['token requested (initial)']);
    expect(lines.filter((line) => / -> 200 paid /.test(line))).toHaveLength(3);
    expect(lines.at(-1)).toBe('token requests: 1, API calls: 3');
    // The emulator's secret and tokens hold the canary mark: none may reach the output.
    expect(lines.filter((line) => line.includes('xcanary'))).toEqual([]);
  });
});
