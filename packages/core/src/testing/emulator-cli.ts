import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as v from 'valibot';
import { durationProblem } from '../cache-policy.js';
import { type ConfigurationIssue, isConfigurationError } from '../errors.js';
import { checkProviderSettings, hasControlCharacter, nearestKey, printableName, settingLimits } from '../settings-checks.js';
import { type EmulatorFault, type EmulatorFaultKind, validateEmulatorFault } from './emulator-fault.js';
import type { EmulatorOptions } from './emulator-kit.js';

/**
 * An option of a gateway's emulator that its command line takes besides the kit's: a duration or one of a few words,
 * by flag (the key in kebab case: `tokenLifetimeMs` is `--token-lifetime-ms`) and in the config file, or any JSON
 * value its schema accepts, in the config file only.
 */
export type EmulatorCliSetting<Key extends string = string> =
  | {
      /** The emulator's option, and the config file's key. */
      key: Key;
      /** Milliseconds, 0 to 2^31−1. */
      kind: 'duration';
      /** One line for `--help`, with the default. */
      description: string;
    }
  | {
      /** The emulator's option, and the config file's key. */
      key: Key;
      /** One of `choices`, a string, by flag and in the config file. */
      kind: 'choice';
      /** The strings the option takes, e.g. `['hex', 'canary']`. */
      choices: readonly string[];
      /** One line for `--help`, with the default. */
      description: string;
    }
  | {
      /** The emulator's option, and the config file's key. */
      key: Key;
      /** A JSON value, from the config file only. */
      kind: 'json';
      /** Checks the value; write its messages so that they never quote it. */
      schema: v.GenericSchema;
      /** One line for `--help`. */
      description: string;
    };

/** The running emulator, as much of it as the command line uses. */
export interface EmulatorCliServer<Target extends string> {
  /** Where it listens. */
  readonly url: string;
  /** Queues a fault. */
  fault(fault: EmulatorFault<Target>): void;
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * A credential field of the merchants an emulator's `merchants` option takes (`impKey`, `clientSecret`, …): what
 * `--merchant field=value,…` may name.
 */
export type EmulatorCliMerchantField<Options> = keyof (Options extends {
  /** The emulator's accepted credentials. */
  merchants?: readonly (infer Merchant)[] | undefined;
}
  ? Merchant
  : Record<string, string>) &
  string;

/** A gateway's emulator as a command: how to start it and what its flags and config file may set. */
export interface EmulatorCliDefinition<Target extends string, Options extends EmulatorOptions<Target>> {
  /** The command's name, e.g. `x-iamport-emulator`: every message starts with it. */
  command: string;
  /** The gateway, for `--help`, e.g. `i'mport (PortOne V1)`. */
  gateway: string;
  /** A merchant's credential fields, as `--merchant field=value,…` and the config file's `merchants` take them. */
  merchantFields: {
    /** Fields every merchant must have. */
    required: readonly EmulatorCliMerchantField<Options>[];
    /** Fields it may have. @default [] */
    optional?: readonly EmulatorCliMerchantField<Options>[] | undefined;
  };
  /** What a fault's `target` may name. */
  faultTargets: readonly Target[];
  /** The emulator's own options the command line sets. */
  settings: readonly EmulatorCliSetting<keyof Options & string>[];
  /** Starts the emulator (e.g. `createIamportEmulator`) with the options read. */
  start(options: Options): Promise<EmulatorCliServer<Target>>;
}

/** What {@link readEmulatorCli} found in the arguments (and the config file they name). */
export type EmulatorCliReading<Target extends string> =
  | { kind: 'help' }
  | { kind: 'invalid'; issues: ConfigurationIssue[] }
  | {
      kind: 'start';
      /** The emulator's options: the kit's (`host`, `port`, `clockOffsetMs`, `recordRequests`), `merchants`, the settings. */
      options: Record<string, unknown>;
      /** Faults to queue once it listens, the config file's first. */
      faults: EmulatorFault<Target>[];
      /** Print the address as a JSON line. */
      json: boolean;
    };

/** Every kind of fault, in the order `--help` lists them; `body` and `raw` need JSON and come from the config file. */
const faultKinds = ['status', 'html', 'malformed', 'truncated', 'drop', 'reset', 'stall', 'slow', 'raw', 'body'] as const;
const flagFaultKinds: readonly EmulatorFaultKind[] = faultKinds.filter((kind) => kind !== 'raw' && kind !== 'body');
// Fails to compile when the kit gains a fault kind this list lacks.
const everyFaultKind: Record<Exclude<EmulatorFaultKind, (typeof faultKinds)[number]>, never> = {};
void everyFaultKind;

const portMessage = 'must be a whole number from 0 to 65535';
const portSchema = v.pipe(v.number(portMessage), v.integer(portMessage), v.minValue(0, portMessage), v.maxValue(65_535, portMessage));
const hostMessage = 'must be a host name or an IP address (no brackets, no port)';
const hostSchema = v.pipe(v.string(hostMessage), v.regex(/^[A-Za-z0-9._%:-]{1,253}$/, hostMessage));
const clockOffsetMessage = 'must be a finite number of milliseconds (negative: behind)';
const clockOffsetSchema = v.pipe(v.number(clockOffsetMessage), v.finite(clockOffsetMessage));
const durationSchema = v.pipe(
  v.number('must be a finite number of at least 0'),
  v.rawCheck(({ dataset, addIssue }) => {
    const problem = dataset.typed ? durationProblem(dataset.value) : undefined;
    if (problem !== undefined) addIssue({ message: problem });
  }),
);
const credentialSchema = v.pipe(
  v.string('must be a string'),
  v.nonEmpty('required'),
  v.maxLength(settingLimits.credentialMaxLength, `must be at most ${settingLimits.credentialMaxLength} characters`),
  v.check((value) => !hasControlCharacter(value), 'must not contain control characters (line breaks, NUL, …)'),
);
const statusMessage = 'must be a whole number from 100 to 599';
const statusSchema = v.pipe(
  v.number(statusMessage),
  v.integer(statusMessage),
  v.minValue(100, statusMessage),
  v.maxValue(599, statusMessage),
);
const countMessage = 'must be a whole number of at least 1, or "Infinity"';
const countSchema = v.pipe(
  v.union(
    [v.pipe(v.number(countMessage), v.integer(countMessage), v.minValue(1, countMessage)), v.literal('Infinity', countMessage)],
    countMessage,
  ),
  v.transform((count) => (count === 'Infinity' ? Number.POSITIVE_INFINITY : count)),
);

/** The config file's keys and the flags that set the same options (besides the gateway's settings). */
const kitKeys = { host: 'host', port: 'port', clockOffsetMs: 'clock-offset-ms' } as const;

/**
 * Reads a standalone emulator's arguments, and the JSON file `--config` names: the options to start it with (the
 * defaults, then the file, then the flags; `--merchant` replaces the file's merchants), or every problem at once,
 * each naming the flag or the file and path, none quoting a value.
 */
export async function readEmulatorCli<Target extends string, Options extends EmulatorOptions<Target>>(
  definition: EmulatorCliDefinition<Target, Options>,
  argv: readonly string[],
): Promise<EmulatorCliReading<Target>> {
  const schemas = configSchemas(definition);
  const merchantFields: readonly string[] = [...definition.merchantFields.required, ...(definition.merchantFields.optional ?? [])];
  const flags = flagsOf(definition);
  const choiceKeys = new Set<string>(definition.settings.filter((setting) => setting.kind === 'choice').map((setting) => setting.key));
  const issues: ConfigurationIssue[] = [];
  const fromFlags: Record<string, unknown> = {};
  const merchants: Record<string, unknown>[] = [];
  const faults: EmulatorFault<Target>[] = [];
  let configPath: string | undefined;
  let json = false;

  const { tokens } = parseArgs({ args: [...argv], options: flags.options, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      // Never quoted: a stray argument is often a value that lost its flag, and values may be secrets.
      issues.push({ path: `argument ${token.index + 1}`, message: 'is not a flag: every setting is --name value (see --help)' });
      continue;
    }
    const flag = `--${token.name}`;
    const spec = flags.options[token.name];
    if (spec === undefined) {
      const suggestion = nearestKey(token.name, Object.keys(flags.options));
      issues.push({
        path: printableName(token.rawName, 64),
        message: suggestion === undefined ? 'unknown flag (see --help)' : `unknown flag; did you mean --${suggestion}?`,
      });
      continue;
    }
    if (spec.type === 'boolean') {
      if (token.value !== undefined) issues.push({ path: flag, message: 'takes no value' });
      else if (token.name === 'help') return { kind: 'help' };
      else json = true;
      continue;
    }
    if (token.value === undefined) {
      issues.push({ path: flag, message: 'needs a value' });
      continue;
    }
    if (token.name === 'config') configPath = token.value;
    else if (token.name === 'merchant') {
      const path = `${flag} #${merchants.length + 1}`;
      const merchant = checkObject(schemas.merchant, fieldList(token.value, merchantFields, path, issues), path, ': ', issues);
      merchants.push(merchant ?? {});
    } else if (token.name === 'fault') {
      const path = `${flag} #${faults.length + 1}`;
      const fields = fieldList(token.value, ['kind', 'target', 'count', 'status', 'delayMs'], path, issues);
      if (fields.kind === 'body' || fields.kind === 'raw') {
        issues.push({ path, message: 'a body or raw fault is given in the config file (--config), whose JSON can hold its body' });
        faults.push({ kind: 'drop' });
        continue;
      }
      for (const field of ['count', 'status', 'delayMs']) if (field in fields) fields[field] = numberOf(fields[field] as string);
      faults.push(checkFault(definition, schemas, fields, path, ': ', flagFaultKinds, issues) ?? { kind: 'drop' });
    } else {
      const key = flags.keys[token.name]!;
      const text = key === 'host' || choiceKeys.has(key);
      const parsed = v.safeParse(schemas.config.entries[key]!, text ? token.value : numberOf(token.value));
      if (parsed.success) fromFlags[key] = parsed.output;
      else issues.push({ path: flag, message: parsed.issues[0].message });
    }
  }

  const fromConfig = configPath === undefined ? undefined : await readConfig(definition, schemas, configPath, issues);
  if (issues.length > 0) return { kind: 'invalid', issues };
  const options: Record<string, unknown> = { host: '127.0.0.1', port: 0, recordRequests: false };
  Object.assign(options, fromConfig?.options, fromFlags);
  if (merchants.length > 0) options.merchants = merchants;
  return { kind: 'start', options, faults: [...(fromConfig?.faults ?? []), ...faults], json };
}

/** The `--help` text of a gateway's emulator. */
export function emulatorCliHelp<Target extends string, Options extends EmulatorOptions<Target>>(
  definition: EmulatorCliDefinition<Target, Options>,
): string {
  const { required, optional = [] } = definition.merchantFields;
  const flagSettings = definition.settings.filter((setting) => setting.kind !== 'json');
  const configKeys = ['host', 'port', 'merchants', 'clockOffsetMs', 'faults', ...definition.settings.map((setting) => setting.key)];
  const rows: Array<[string, string]> = [
    ['--port <number>', 'port to listen on; 0 picks a free one (default 0)'],
    ['--host <address>', 'address to listen on; 0.0.0.0 for every interface (default 127.0.0.1)'],
    [
      '--merchant <field=value,…>',
      `accepted credentials: ${[...required, ...optional.map((field) => `${field} (optional)`)].join(', ')}; repeatable (default: the built-in merchant in the README)`,
    ],
    ['--clock-offset-ms <ms>', "how far the gateway's clock is ahead of this machine's; negative: behind (default 0)"],
    ...flagSettings.map((setting): [string, string] => [
      `--${kebabCase(setting.key)} ${setting.kind === 'choice' ? `<${setting.choices.join('|')}>` : '<ms>'}`,
      setting.description,
    ]),
    [
      '--fault <field=value,…>',
      `queue a fault: kind (${flagFaultKinds.join(', ')}), target (${definition.faultTargets.join(', ')}), count (default 1, or Infinity), status, delayMs; repeatable`,
    ],
    ['--config <file>', `a JSON object of the same settings (${configKeys.join(', ')}); flags override it`],
    ['--json', 'print the address as one JSON line ({"url","port"}) instead of the URL'],
    ['-h, --help', 'print this help'],
  ];
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  const configOnly = definition.settings.filter((setting) => setting.kind === 'json');
  return [
    `Usage: ${definition.command} [flags]`,
    '',
    `A local ${definition.gateway} for tests in any language. Prints its URL on one line, then serves until`,
    'SIGINT or SIGTERM. Logs no request, secret or token.',
    '',
    ...rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`),
    ...(configOnly.length === 0
      ? []
      : ['', 'In the config file only:', ...configOnly.map((setting) => `  ${setting.key.padEnd(width)}${setting.description}`)]),
    '',
    'Exit status: 0 after SIGINT or SIGTERM, 1 when it cannot listen, 2 for a bad flag or config file.',
    '',
  ].join('\n');
}

/**
 * Runs a gateway's emulator as a command (`x-iamport-emulator --port 8080`): reads the flags and the `--config` file,
 * starts the emulator, queues the faults, prints its URL (or, with `--json`, `{"url","port"}`) as one line on stdout,
 * and serves until SIGINT or SIGTERM, then closes it. Resolves to the exit status: 0 after a signal, 1 when the
 * emulator cannot start (the port is taken, say), 2 for a bad flag or config file, each problem on stderr naming the
 * flag or the file and path, never a value. Nothing else is printed: no request, no secret, no token.
 *
 * @example
 * // bin of a gateway package
 * runEmulatorCli({ command: 'x-my-emulator', start: createMyEmulator, … }).then((status) => {
 *   process.exitCode = status;
 * });
 */
export async function runEmulatorCli<Target extends string, Options extends EmulatorOptions<Target>>(
  definition: EmulatorCliDefinition<Target, Options>,
  argv: readonly string[] = process.argv.slice(2),
): Promise<number> {
  const print = (stream: NodeJS.WriteStream, lines: readonly string[]): void => {
    stream.write(lines.map((line) => `${line}\n`).join(''));
  };
  const reading = await readEmulatorCli(definition, argv);
  if (reading.kind === 'help') {
    process.stdout.write(emulatorCliHelp(definition));
    return 0;
  }
  if (reading.kind === 'invalid') {
    print(process.stderr, [
      ...reading.issues.map((issue) => `${definition.command}: ${issue.path}: ${issue.message}`),
      `Run ${definition.command} --help for its flags.`,
    ]);
    return 2;
  }
  // Listening for the signals before the server starts: a signal sent as soon as the URL is read stops it cleanly.
  // The first one only: a second, while it closes, ends the process as Node does by default.
  const signals = ['SIGINT', 'SIGTERM'] as const;
  let stop = (): void => {};
  const stopped = new Promise<void>((resolve) => {
    stop = () => {
      for (const signal of signals) process.off(signal, stop);
      resolve();
    };
  });
  for (const signal of signals) process.on(signal, stop);
  let server: EmulatorCliServer<Target>;
  try {
    server = await definition.start(reading.options as Options);
  } catch (error) {
    stop();
    print(process.stderr, [`${definition.command}: ${startProblem(error, reading.options)}`]);
    return isConfigurationError(error) ? 2 : 1;
  }
  for (const fault of reading.faults) server.fault(fault);
  const port = Number(new URL(server.url).port);
  print(process.stdout, [reading.json ? JSON.stringify({ url: server.url, port }) : server.url]);
  await stopped;
  await server.close();
  return 0;
}

/** Why the emulator did not start, in words that quote no option's value but the address. */
function startProblem(error: unknown, options: Record<string, unknown>): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  const address = `${options.host}:${options.port}`;
  if (code === 'EADDRINUSE') return `cannot listen on ${address}: the port is in use`;
  if (code === 'EACCES') return `cannot listen on ${address}: permission denied (a port below 1024 needs privileges)`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot listen on ${address}: no such address here`;
  if (isConfigurationError(error)) return error.message;
  return `could not start (${typeof code === 'string' ? code : error instanceof Error ? error.name : 'unknown error'})`;
}

/** The flags `parseArgs` takes, and the option each value flag sets. */
function flagsOf<Target extends string, Options extends EmulatorOptions<Target>>(definition: EmulatorCliDefinition<Target, Options>) {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' },
    json: { type: 'boolean' },
    config: { type: 'string' },
    merchant: { type: 'string', multiple: true },
    fault: { type: 'string', multiple: true },
  };
  const keys: Record<string, string> = {};
  for (const [key, flag] of Object.entries(kitKeys)) keys[flag] = key;
  for (const setting of definition.settings) if (setting.kind !== 'json') keys[kebabCase(setting.key)] = setting.key;
  for (const flag of Object.keys(keys)) options[flag] = { type: 'string' };
  return { options, keys };
}

/** The schemas of the config file, its merchants and its faults. */
function configSchemas<Target extends string, Options extends EmulatorOptions<Target>>(definition: EmulatorCliDefinition<Target, Options>) {
  const { required, optional = [] } = definition.merchantFields;
  const merchant = v.object(
    Object.fromEntries([
      ...required.map((field) => [field, credentialSchema] as const),
      ...optional.map((field) => [field, v.optional(credentialSchema)] as const),
    ]),
    'must be an object',
  );
  const config = v.object(
    {
      host: v.optional(hostSchema),
      port: v.optional(portSchema),
      clockOffsetMs: v.optional(clockOffsetSchema),
      merchants: v.optional(
        v.pipe(v.array(v.unknown(), 'must be an array of merchants'), v.minLength(1, 'must list at least one merchant')),
      ),
      faults: v.optional(v.array(v.unknown(), 'must be an array of faults')),
      ...Object.fromEntries(definition.settings.map((setting) => [setting.key, v.optional(settingSchema(setting))])),
    } as Record<string, v.OptionalSchema<v.GenericSchema, undefined>>,
    'must be a JSON object',
  );
  const target = v.picklist(definition.faultTargets as Target[], `must be one of ${definition.faultTargets.join(', ')}`);
  const fault = (entries: v.ObjectEntries) =>
    v.object({ kind: v.string(), ...entries, target: v.optional(target), count: v.optional(countSchema) }, 'must be an object');
  const faults: Record<(typeof faultKinds)[number], v.GenericSchema> = {
    status: fault({ status: v.optional(statusSchema) }),
    html: fault({ status: v.optional(statusSchema) }),
    malformed: fault({}),
    truncated: fault({}),
    drop: fault({}),
    reset: fault({}),
    stall: fault({}),
    slow: fault({ delayMs: durationSchema }),
    raw: fault({
      status: v.optional(statusSchema),
      statusText: v.optional(v.string('must be a string')),
      contentType: v.optional(v.nullable(v.string('must be a string or null'), 'must be a string or null')),
      headers: v.optional(v.record(v.string(), v.string('must be a string'), 'must be an object of strings')),
      body: v.optional(v.string('must be a string (sent as UTF-8)')),
      declaredLength: v.optional(v.number('must be a number')),
      chunkSize: v.optional(v.number('must be a number')),
      chunkDelayMs: v.optional(durationSchema),
      ending: v.optional(v.picklist(['complete', 'close', 'reset', 'stall'], 'must be one of complete, close, reset, stall')),
    }),
    body: fault({ body: v.custom((value) => value !== undefined, 'required'), status: v.optional(statusSchema) }),
  };
  return { config, merchant, faults };
}

type ConfigSchemas = ReturnType<typeof configSchemas>;

/** What a gateway setting's value must be; a choice's message lists the choices and never quotes the value. */
function settingSchema(setting: EmulatorCliSetting): v.GenericSchema {
  if (setting.kind === 'duration') return durationSchema;
  if (setting.kind === 'json') return setting.schema;
  const message = `must be one of ${setting.choices.join(', ')}`;
  return v.picklist(setting.choices as string[], message);
}

/** Reads, parses and checks the config file; its problems go to `issues`, each path after the file's. */
async function readConfig<Target extends string, Options extends EmulatorOptions<Target>>(
  definition: EmulatorCliDefinition<Target, Options>,
  schemas: ConfigSchemas,
  path: string,
  issues: ConfigurationIssue[],
): Promise<{ options: Record<string, unknown>; faults: EmulatorFault<Target>[] } | undefined> {
  const file = printableName(path, 256);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    issues.push({ path: `--config ${file}`, message: `cannot be read${typeof code === 'string' ? ` (${code})` : ''}` });
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Not the parser's message: from Node 21 on it quotes the text around the error, which may be a secret.
    issues.push({ path: `--config ${file}`, message: 'is not valid JSON' });
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    issues.push({ path: file, message: 'must be a JSON object' });
    return undefined;
  }
  const { issues: found, own, output } = checkProviderSettings(schemas.config, json);
  issues.push(...found.map((issue) => ({ path: `${file}: ${issue.path}`, message: issue.message })));
  const { faults: _faults, ...options }: Record<string, unknown> = { ...output };
  const listed = (key: string): unknown[] => (Array.isArray(own?.[key]) ? (own[key] as unknown[]) : []);
  const merchants = listed('merchants').map((merchant, index) =>
    checkObject(schemas.merchant, merchant, `${file}: merchants[${index}]`, '.', issues),
  );
  if (merchants.length > 0) options.merchants = merchants;
  const faults = listed('faults').map((fault, index) =>
    checkFault(definition, schemas, fault, `${file}: faults[${index}]`, '.', faultKinds, issues),
  );
  return { options, faults: faults.filter((fault) => fault !== undefined) };
}

/** `value` checked by an object schema (unknown keys included); its problems go to `issues`, paths after `path`. */
function checkObject(
  schema: v.GenericSchema,
  value: unknown,
  path: string,
  separator: string,
  issues: ConfigurationIssue[],
): Record<string, unknown> | undefined {
  const check = checkProviderSettings(schema, value);
  issues.push(
    ...check.issues.map((issue) => ({ path: issue.path === '' ? path : `${path}${separator}${issue.path}`, message: issue.message })),
  );
  return check.output as Record<string, unknown> | undefined;
}

/** A fault checked by its kind's schema and by the kit, as `fault()` would check it. */
function checkFault<Target extends string, Options extends EmulatorOptions<Target>>(
  definition: EmulatorCliDefinition<Target, Options>,
  schemas: ConfigSchemas,
  value: unknown,
  path: string,
  separator: string,
  kinds: readonly EmulatorFaultKind[],
  issues: ConfigurationIssue[],
): EmulatorFault<Target> | undefined {
  const kind = (value as { kind?: unknown } | null)?.kind;
  if (typeof value === 'object' && value !== null && !kinds.includes(kind as EmulatorFaultKind)) {
    issues.push({ path: `${path}${separator}kind`, message: kind === undefined ? 'required' : `must be one of ${kinds.join(', ')}` });
    return undefined;
  }
  const fault = checkObject(schemas.faults[kind as EmulatorFaultKind] ?? schemas.faults.drop, value, path, separator, issues) as
    | EmulatorFault<Target>
    | undefined;
  if (fault === undefined) return undefined;
  try {
    validateEmulatorFault(fault, definition.command);
  } catch (error) {
    issues.push({ path, message: error instanceof Error ? error.message : 'is not a valid fault' });
    return undefined;
  }
  return fault;
}

/**
 * A `field=value,…` list as an object (a value may hold `=`, not `,`). An item that is not `field=value` with a
 * known field is an issue that does not quote it: it may be a secret that lost its field name.
 */
function fieldList(text: string, fields: readonly string[], path: string, issues: ConfigurationIssue[]): Record<string, unknown> {
  const record: Record<string, unknown> = Object.create(null);
  for (const [index, item] of text.split(',').entries()) {
    const equals = item.indexOf('=');
    const field = equals === -1 ? undefined : item.slice(0, equals);
    if (field !== undefined && fields.includes(field)) {
      record[field] = item.slice(equals + 1);
      continue;
    }
    const suggestion = field === undefined ? undefined : nearestKey(field, fields);
    issues.push({
      path,
      message: `item ${index + 1} is not field=value with a field of ${fields.join(', ')}${suggestion === undefined ? '' : `; did you mean ${suggestion}?`}`,
    });
  }
  return record;
}

/** A flag's number (`60_000`, `-5000`, `1.5`), or the text itself when it is none, for the schema to refuse. */
function numberOf(text: string): number | string {
  return /^[+-]?\d[\d_]*(\.\d+)?$/.test(text) ? Number(text.replaceAll('_', '')) : text;
}

function kebabCase(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
