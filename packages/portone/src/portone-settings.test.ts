import { describeSettingsConformance } from '@x/core/testing/conformance';
import { describe, expect, it } from 'vitest';
import { portOneConformance } from '../test/portone-conformance.js';
import { validatePortOneSettings } from './portone-settings.js';
import { createPortOneProvider } from './portone-token-provider.js';

describeSettingsConformance(portOneConformance);

describe('validatePortOneSettings', () => {
  it('should report every problem at once, with paths relative to the settings and never a value', () => {
    expect(validatePortOneSettings({ mode: 'Static', baseUrl: 'api.portone.io' })).toEqual([
      { path: 'apiSecret', message: 'required' },
      { path: 'baseUrl', message: 'must be an absolute URL' },
      { path: 'mode', message: "must be 'token' or 'static'" },
    ]);
  });

  it('should default to token mode on https://api.portone.io', () => {
    const provider = createPortOneProvider({ apiSecret: 'secret-1' });
    expect(provider).toMatchObject({ provider: 'portone', mode: 'token', baseUrl: 'https://api.portone.io' });
    expect(provider.staticAuthorization).toBeUndefined();
  });
});
