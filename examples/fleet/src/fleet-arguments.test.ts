import { describe, expect, it } from 'vitest';
import { parseFleetArguments } from './fleet-arguments.js';

describe('parseFleetArguments', () => {
  it('should read --workers after the -- that pnpm passes on, as the README runs it', () => {
    expect(parseFleetArguments(['--', '--workers', '50'], {})).toEqual({ workers: 50 });
    expect(parseFleetArguments(['--workers', '8'], {})).toEqual({ workers: 8 });
    expect(parseFleetArguments(['--workers=3'], {})).toEqual({ workers: 3 });
  });

  it('should default to FLEET_WORKERS, then 6', () => {
    expect(parseFleetArguments([], { FLEET_WORKERS: '4' })).toEqual({ workers: 4 });
    expect(parseFleetArguments(['--'], {})).toEqual({ workers: 6 });
  });

  it('should refuse a count that is not a whole number of at least 1', () => {
    for (const count of ['0', '-2', '1.5', 'many']) {
      expect(() => parseFleetArguments([`--workers=${count}`], {})).toThrow('--workers must be a whole number of at least 1');
    }
  });
});
