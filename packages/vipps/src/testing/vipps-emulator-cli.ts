#!/usr/bin/env node
/**
 * `x-vipps-emulator`, the package's `bin`: the Vipps MobilePay emulator as a standalone server for tests in any
 * language, on the command line of every `@x` emulator (`@x/core/testing`'s `runEmulatorCli`).
 */
import { runEmulatorCli } from '@x/core/testing';
import { createVippsEmulator, type VippsEmulatorOptions, type VippsFaultTarget } from './vipps-emulator.js';
import type { VippsUnknownPaymentReferences } from './vipps-epayment.js';

// Fails to compile when the emulator gains a fault target this command does not offer.
const faultTargets = { accesstoken: true, partner: true, token: true, payments: true } satisfies Record<VippsFaultTarget, true>;
// The same for the values of the options below.
type PartnerExpiresIn = NonNullable<VippsEmulatorOptions['partnerExpiresIn']>;
const expiresInTypes = Object.keys({ number: true, string: true } satisfies Record<PartnerExpiresIn, true>) as PartnerExpiresIn[];
const unknownReferences = Object.keys({ authorized: true, 'not-found': true } satisfies Record<
  VippsUnknownPaymentReferences,
  true
>) as VippsUnknownPaymentReferences[];

runEmulatorCli<VippsFaultTarget, VippsEmulatorOptions>({
  command: 'x-vipps-emulator',
  gateway: 'Vipps MobilePay',
  merchantFields: { required: ['clientId', 'clientSecret'], optional: ['subscriptionKey', 'merchantSerialNumber'] },
  faultTargets: Object.keys(faultTargets) as VippsFaultTarget[],
  settings: [
    {
      key: 'tokenLifetimeMs',
      kind: 'duration',
      description: 'lifetime of /accesstoken/get tokens (default 3600000, the test environment; production: 86400000)',
    },
    { key: 'partnerTokenLifetimeMs', kind: 'duration', description: 'lifetime of /miami/v1/token tokens (default 900000)' },
    {
      key: 'partnerExpiresIn',
      kind: 'choice',
      choices: expiresInTypes,
      description: '/miami/v1/token\'s expires_in: 900 as the guide shows, or "900" as the OpenAPI types it (default number)',
    },
    {
      key: 'unknownPaymentReferences',
      kind: 'choice',
      choices: unknownReferences,
      description: 'a reference no create call made: an approved 10 NOK payment, or 404 as the gateway (default authorized)',
    },
  ],
  start: createVippsEmulator,
}).then((status) => {
  process.exitCode = status;
});
