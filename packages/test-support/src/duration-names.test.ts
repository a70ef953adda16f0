/**
 * Durations end in `Ms` everywhere in the published packages: options, parameters, fields and events
 * (`refreshAheadMs`, `TokenStore.set(key, value, ttlMs)`). Read from the sources of every published package: each
 * name declared as a `number` that reads as a duration (a ttl, delay, timeout, wait, lifetime, interval…) must say its
 * unit. `Seconds` is allowed where a gateway's wire counts seconds, and a helper's bare `milliseconds` parameter too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const published = ['core', 'iamport', 'vipps', 'redis', 'oauth2'];
const durationWord = /ttl|delay|timeout|wait|duration|interval|lifetime|milliseconds|elapsed/i;

/** `file:line name` for every duration-like name declared as a number that does not end in `Ms` or `Seconds`. */
function unitlessDurations(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, index) =>
      [...line.matchAll(/\b([A-Za-z_]\w*)\??\s*:\s*number\b/g)]
        .map((match) => match[1]!)
        .filter((name) => durationWord.test(name) && name !== 'milliseconds' && !/(Ms|Seconds)$/.test(name))
        .map((name) => `${relative(root, file)}:${index + 1} ${name}`),
    );
}

describe('duration names', () => {
  it('should end every duration in the published packages in Ms', () => {
    const files = published.flatMap((name) =>
      readdirSync(join(root, 'packages', name, 'src'), { withFileTypes: true, recursive: true })
        .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
        .map((entry) => join(entry.parentPath, entry.name)),
    );
    expect(files.length).toBeGreaterThan(40);
    expect(files.flatMap(unitlessDurations)).toEqual([]);
  });
});
