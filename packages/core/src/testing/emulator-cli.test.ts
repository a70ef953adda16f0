import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryMarker } from './canary.js';
import { type EmulatorCliDefinition, emulatorCliHelp, readEmulatorCli } from './emulator-cli.js';
import type { EmulatorOptions } from './emulator-kit.js';

interface EchoMerchant {
  key: string;
  secret: string;
  note?: string | undefined;
}

interface EchoOptions extends EmulatorOptions<'token' | 'api'> {
  merchants?: readonly EchoMerchant[] | undefined;
  tokenLifetimeMs?: number | undefined;
  payments?: Record<string, { amount?: number }> | undefined;
  tokenFormat?: 'hex' | 'canary' | undefined;
}

/** A gateway's command line as the CLI reads it; `start` is never called here. */
const definition: EmulatorCliDefinition<'token' | 'api', EchoOptions> = {
  command: 'x-echo-emulator',
  gateway: 'Echo',
  merchantFields: { required: ['key', 'secret'], optional: ['note'] },
  faultTargets: ['token', 'api'],
  settings: [
    { key: 'tokenLifetimeMs', kind: 'duration', description: 'lifetime of a new token (default 1800000)' },
    { key: 'tokenFormat', kind: 'choice', choices: ['hex', 'canary'], description: 'the form of a new token (default hex)' },
    {
      key: 'payments',
      kind: 'json',
      schema: v.record(v.string(), v.object({ amount: v.optional(v.number('must be a number')) }, 'must be an object')),
      description: 'payments by id',
    },
  ],
  start: () => Promise.reject(new Error('not started in these tests')),
};

/** A secret in the canary form: whatever prints it has leaked it. */
const secret = `${canaryMarker}-Y8Kteew6GE2ZmeycEt6egg==`;

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'x-emulator-cli-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function configFile(name: string, text: string): Promise<string> {
  const path = join(directory, name);
  await writeFile(path, text);
  return path;
}

async function issuesOf(argv: string[]) {
  const reading = await readEmulatorCli(definition, argv);
  if (reading.kind !== 'invalid') throw new Error(`expected issues, got ${reading.kind}`);
  // Whatever the user got wrong, the messages never quote a secret.
  expect(JSON.stringify(reading.issues)).not.toContain(canaryMarker);
  return reading.issues;
}

describe('readEmulatorCli', () => {
  it('should start on 127.0.0.1, a free port and the emulator defaults when given no flag', async () => {
    expect(await readEmulatorCli(definition, [])).toEqual({
      kind: 'start',
      options: { host: '127.0.0.1', port: 0, recordRequests: false },
      faults: [],
      json: false,
    });
  });

  it('should read every flag into the emulator options and the faults to queue', async () => {
    const reading = await readEmulatorCli(definition, [
      '--port',
      '8080',
      '--host=0.0.0.0',
      '--clock-offset-ms',
      '-32_400_000',
      '--token-lifetime-ms',
      '60_000',
      '--merchant',
      `key=shop,secret=${secret}`,
      '--merchant',
      'key=other,secret=s2,note=a=b',
      '--fault',
      'kind=status,status=503,count=2,target=api',
      '--fault',
      'kind=slow,delayMs=1500,count=Infinity',
      '--json',
    ]);
    expect(reading).toEqual({
      kind: 'start',
      options: {
        host: '0.0.0.0',
        port: 8080,
        recordRequests: false,
        clockOffsetMs: -32_400_000,
        tokenLifetimeMs: 60_000,
        merchants: [
          { key: 'shop', secret },
          { key: 'other', secret: 's2', note: 'a=b' },
        ],
      },
      faults: [
        { kind: 'status', status: 503, count: 2, target: 'api' },
        { kind: 'slow', delayMs: 1500, count: Number.POSITIVE_INFINITY },
      ],
      json: true,
    });
  });

  it('should report every bad flag at once, naming each and quoting no value', async () => {
    const issues = await issuesOf([
      '--port',
      '70000',
      '--prot',
      '1',
      '--json=yes',
      '--token-lifetime-ms',
      '-1',
      '--merchant',
      `key=shop,${secret}`,
      '--merchant',
      `key=other,scret=${secret}`,
      '--fault',
      'kind=body',
      '--fault',
      'kind=drop,target=payments',
      '--host',
      `stray-${secret}`,
    ]);
    expect(issues).toEqual([
      { path: '--port', message: 'must be a whole number from 0 to 65535' },
      { path: '--prot', message: 'unknown flag; did you mean --port?' },
      { path: 'argument 4', message: 'is not a flag: every setting is --name value (see --help)' },
      { path: '--json', message: 'takes no value' },
      { path: '--token-lifetime-ms', message: 'must be a finite number of at least 0' },
      { path: '--merchant #1', message: 'item 2 is not field=value with a field of key, secret, note' },
      { path: '--merchant #1: secret', message: 'required' },
      { path: '--merchant #2', message: 'item 2 is not field=value with a field of key, secret, note; did you mean secret?' },
      { path: '--merchant #2: secret', message: 'required' },
      { path: '--fault #1', message: 'a body or raw fault is given in the config file (--config), whose JSON can hold its body' },
      { path: '--fault #2: target', message: 'must be one of token, api' },
      { path: '--host', message: 'must be a host name or an IP address (no brackets, no port)' },
    ]);
  });

  it('should read a config file, and let the flags override it', async () => {
    const path = await configFile(
      'emulator.json',
      JSON.stringify({
        port: 8080,
        clockOffsetMs: 1000,
        tokenLifetimeMs: 5000,
        merchants: [{ key: 'shop', secret }],
        faults: [
          { kind: 'body', status: 401, body: { code: -1 } },
          { kind: 'raw', status: 200, body: '{"half', ending: 'reset' },
        ],
        payments: { imp_1: { amount: 5 } },
      }),
    );
    const reading = await readEmulatorCli(definition, ['--config', path, '--port', '9090', '--fault', 'kind=drop']);
    expect(reading).toEqual({
      kind: 'start',
      options: {
        host: '127.0.0.1',
        port: 9090,
        recordRequests: false,
        clockOffsetMs: 1000,
        tokenLifetimeMs: 5000,
        merchants: [{ key: 'shop', secret }],
        payments: { imp_1: { amount: 5 } },
      },
      faults: [
        { kind: 'body', status: 401, body: { code: -1 } },
        { kind: 'raw', status: 200, body: '{"half', ending: 'reset' },
        { kind: 'drop' },
      ],
      json: false,
    });
    const replaced = await readEmulatorCli(definition, ['--config', path, '--merchant', 'key=k,secret=s']);
    expect(replaced.kind === 'start' && replaced.options.merchants).toEqual([{ key: 'k', secret: 's' }]);
  });

  it('should name the config file and the path of every bad value in it, quoting no secret', async () => {
    const path = await configFile(
      'bad.json',
      JSON.stringify({
        port: '8080',
        tokenLifetime: 5000,
        merchants: [{ key: 'shop' }, { key: 'other', secret: 42, scret: secret }, secret],
        faults: [{ kind: 'explode' }, { kind: 'slow' }, { kind: 'status', status: 99, count: 0 }, { kind: 'raw', chunkSize: 0 }],
        payments: { imp_1: { amount: secret } },
      }),
    );
    expect(await issuesOf(['--config', path])).toEqual([
      { path: `${path}: tokenLifetime`, message: 'unknown setting; did you mean "tokenLifetimeMs"?' },
      { path: `${path}: port`, message: 'must be a whole number from 0 to 65535' },
      { path: `${path}: payments.imp_1.amount`, message: 'must be a number' },
      { path: `${path}: merchants[0].secret`, message: 'required' },
      { path: `${path}: merchants[1].scret`, message: 'unknown setting; did you mean "secret"?' },
      { path: `${path}: merchants[1].secret`, message: 'must be a string' },
      { path: `${path}: merchants[2]`, message: 'must be an object' },
      {
        path: `${path}: faults[0].kind`,
        message: 'must be one of status, html, malformed, truncated, drop, reset, stall, slow, raw, body',
      },
      { path: `${path}: faults[1].delayMs`, message: 'required' },
      { path: `${path}: faults[2].status`, message: 'must be a whole number from 100 to 599' },
      { path: `${path}: faults[2].count`, message: 'must be a whole number of at least 1, or "Infinity"' },
      { path: `${path}: faults[3]`, message: 'chunkSize must be a whole number of at least 1' },
    ]);
  });

  it('should say when the config file cannot be read or is not JSON, without quoting it', async () => {
    const missing = join(directory, 'missing.json');
    expect(await issuesOf(['--config', missing])).toEqual([{ path: `--config ${missing}`, message: 'cannot be read (ENOENT)' }]);
    const broken = await configFile('broken.json', `{"merchants":[{"key":"shop","secret":"${secret}"`);
    expect(await issuesOf(['--config', broken])).toEqual([{ path: `--config ${broken}`, message: 'is not valid JSON' }]);
    const list = await configFile('list.json', '[]');
    expect(await issuesOf(['--config', list])).toEqual([{ path: list, message: 'must be a JSON object' }]);
  });

  it('should read a choice by flag over the config file, and refuse another word without quoting it', async () => {
    const config = await configFile('choice.json', JSON.stringify({ tokenFormat: 'hex' }));
    expect(await readEmulatorCli(definition, ['--config', config, '--token-format', 'canary'])).toMatchObject({
      kind: 'start',
      options: { tokenFormat: 'canary' },
    });
    const bad = await configFile('bad-choice.json', JSON.stringify({ tokenFormat: secret }));
    expect(await issuesOf(['--token-format', secret, '--config', bad])).toEqual([
      { path: '--token-format', message: 'must be one of hex, canary' },
      { path: `${bad}: tokenFormat`, message: 'must be one of hex, canary' },
    ]);
  });

  it('should answer --help with every flag, the gateway settings included', async () => {
    expect(await readEmulatorCli(definition, ['-h'])).toEqual({ kind: 'help' });
    const help = emulatorCliHelp(definition);
    for (const flag of ['--port', '--host', '--config', '--merchant', '--clock-offset-ms', '--token-lifetime-ms', '--fault', '--json']) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('--token-format <hex|canary>');
    expect(help).toContain('payments');
    expect(help).toContain('key, secret');
  });
});
