#!/usr/bin/env node
/**
 * `x-iamport-emulator`, the package's `bin`: the i'mport emulator as a standalone server for tests in any language,
 * on the command line of every `@x` emulator (`@x/core/testing`'s `runEmulatorCli`).
 */
import { runEmulatorCli } from '@x/core/testing';
import * as v from 'valibot';
import { iamportPaymentSchema } from '../iamport-api-types.js';
import {
  createIamportEmulator,
  type IamportEmulatorOptions,
  type IamportFaultTarget,
  type IamportTokenFormat,
} from './iamport-emulator.js';
import { iamportTokenRules } from './iamport-token-rules.js';

/** `payments`: partial payments by `imp_uid`, each merged over the one the emulator generates. */
const paymentsSchema = v.record(
  v.pipe(v.string(), v.regex(/^imp_[A-Za-z0-9_]+$/, 'must be an imp_uid: imp_ and letters, digits or _')),
  v.partial(iamportPaymentSchema),
  'must be an object of payments by imp_uid',
);

const faultTargets = { token: true, api: true } satisfies Record<IamportFaultTarget, true>;
// Fails to compile when the emulator gains a token format this command does not offer.
const tokenFormats = Object.keys({ hex: true, canary: true } satisfies Record<IamportTokenFormat, true>) as IamportTokenFormat[];

runEmulatorCli<IamportFaultTarget, IamportEmulatorOptions>({
  command: 'x-iamport-emulator',
  gateway: "i'mport (PortOne V1)",
  merchantFields: { required: ['impKey', 'impSecret'] },
  faultTargets: Object.keys(faultTargets) as IamportFaultTarget[],
  settings: [
    { key: 'tokenLifetimeMs', kind: 'duration', description: `lifetime of a new token (default ${iamportTokenRules.tokenLifetimeMs})` },
    {
      key: 'extensionWindowMs',
      kind: 'duration',
      description: `a token request this close to expiry extends the token (default ${iamportTokenRules.extensionWindowMs})`,
    },
    { key: 'extensionMs', kind: 'duration', description: `how much an extension adds (default ${iamportTokenRules.extensionMs})` },
    {
      key: 'payments',
      kind: 'json',
      schema: paymentsSchema,
      description: 'payments by imp_uid, merged over the generated one, e.g. {"imp_1":{"amount":5000,"status":"ready"}}',
    },
    {
      key: 'tokenFormat',
      kind: 'choice',
      choices: tokenFormats,
      description: "form of a new token: i'mport's 40 hex digits, or as long starting with xcanary for leak tests (default hex)",
    },
  ],
  start: createIamportEmulator,
}).then((status) => {
  process.exitCode = status;
});
