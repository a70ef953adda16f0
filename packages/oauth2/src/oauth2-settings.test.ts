import { inspect } from 'node:util';
import { isConfigurationError } from '@x/core';
import { describeSettingsConformance } from '@x/core/testing/conformance';
import { describe, expect, it } from 'vitest';
import { paypalConformance } from '../test/oauth2-conformance.js';
import { type ClientCredentialsProviderSettings, createClientCredentialsProvider, validateClientCredentialsSettings } from './index.js';

const generic: ClientCredentialsProviderSettings = {
  clientId: 'shop-1',
  clientSecret: 'secret+/w==',
  tokenUrl: 'https://auth.example.com/oauth2/token',
  baseUrl: 'https://api.example.com',
};
const paypal: ClientCredentialsProviderSettings = {
  clientId: 'AYSq3RDG',
  clientSecret: 'EGnHDxD_qRPd',
  preset: 'paypal',
  environment: 'sandbox',
};

function issuesOf(settings: unknown): Record<string, string> {
  return Object.fromEntries(validateClientCredentialsSettings(settings).map((issue) => [issue.path, issue.message]));
}

describeSettingsConformance(paypalConformance);

describe('validateClientCredentialsSettings', () => {
  it('should require tokenUrl and baseUrl without a preset, and report every problem at once', () => {
    expect(issuesOf(generic)).toEqual({});
    expect(issuesOf({ clientId: '', clientSecret: 'x' })).toEqual({
      clientId: 'must not be empty',
      baseUrl: 'required: the API origin',
      tokenUrl: "required (or set preset: 'paypal')",
    });
  });

  it('should let the token URL have a path, a query and another origin than baseUrl, but no fragment or credentials', () => {
    const tokenUrlIssue = (tokenUrl: unknown) => issuesOf({ ...generic, tokenUrl }).tokenUrl;
    expect(tokenUrlIssue('https://login.example.net/tenant-1/oauth2/v2.0/token?api-version=2')).toBeUndefined();
    expect(tokenUrlIssue('http://127.0.0.1:8080/token')).toBeUndefined();
    expect(tokenUrlIssue('https://auth.example.com/token#x')).toBe('must not have a fragment');
    expect(tokenUrlIssue('https://id:secret@auth.example.com/token')).toBe('must not contain credentials');
    expect(tokenUrlIssue('http://auth.example.com/token')).toBe(
      'must use https (http is allowed for loopback hosts only: localhost, 127.0.0.0/8, [::1])',
    );
    expect(tokenUrlIssue('ftp://auth.example.com/token')).toBe('must be an http(s) URL');
    expect(tokenUrlIssue('/oauth2/token')).toBe('must be an absolute URL');
    expect(tokenUrlIssue('https://auth.example.com/to ken')).toBe('must not contain whitespace or control characters');
    expect(tokenUrlIssue(`https://auth.example.com/${'a'.repeat(2048)}`)).toBe('must be at most 2048 characters');
  });

  it('should fill in PayPal from the preset: hosts by environment, the token path, Basic as it is, the debug header', () => {
    const sandbox = createClientCredentialsProvider(paypal);
    expect(sandbox).toMatchObject({
      baseUrl: 'https://api-m.sandbox.paypal.com',
      tokenUrl: 'https://api-m.sandbox.paypal.com/v1/oauth2/token',
      authMethod: 'client_secret_basic_unencoded',
    });
    const live = createClientCredentialsProvider({ ...paypal, environment: 'live' });
    expect([live.baseUrl, live.tokenUrl]).toEqual(['https://api-m.paypal.com', 'https://api-m.paypal.com/v1/oauth2/token']);
    const local = createClientCredentialsProvider({ ...paypal, environment: undefined, baseUrl: 'http://127.0.0.1:9' });
    expect(local.tokenUrl).toBe('http://127.0.0.1:9/v1/oauth2/token');
  });

  it('should refuse a PayPal environment and baseUrl that disagree, an environment without the preset, and neither', () => {
    expect(issuesOf({ ...paypal, baseUrl: 'https://api-m.paypal.com' })).toEqual({
      baseUrl: "does not match environment 'sandbox' (https://api-m.sandbox.paypal.com); set only one of them",
    });
    expect(issuesOf({ ...paypal, baseUrl: 'https://api-m.sandbox.paypal.com/' })).toEqual({});
    expect(issuesOf({ ...generic, environment: 'live' })).toEqual({ environment: "only with preset 'paypal'" });
    expect(issuesOf({ ...paypal, environment: undefined })).toEqual({ environment: "required: 'sandbox' or 'live' (or set baseUrl)" });
    expect(issuesOf({ ...paypal, environment: 'production' })).toEqual({ environment: "must be 'sandbox' or 'live'" });
  });

  it('should check scope (RFC 6749 section 3.3), audience, authMethod, defaultLifetimeMs and diagnosticHeaders', () => {
    expect(issuesOf({ ...generic, scope: 'read write:orders https://api.example.com/x', audience: 'https://api.example.com/' })).toEqual(
      {},
    );
    const scope = 'must be scope tokens separated by single spaces (RFC 6749 §3.3)';
    for (const bad of ['', 'a  b', ' a', 'a\\b', '"a"', 'tök']) expect(issuesOf({ ...generic, scope: bad }), bad).toEqual({ scope });
    expect(issuesOf({ ...generic, audience: '' })).toEqual({ audience: 'must not be empty (leave the setting out instead)' });
    expect(issuesOf({ ...generic, authMethod: 'private_key_jwt' })).toEqual({
      authMethod: "must be 'client_secret_basic', 'client_secret_basic_unencoded', 'client_secret_post'",
    });
    expect(issuesOf({ ...generic, defaultLifetimeMs: 0 })).toEqual({ defaultLifetimeMs: 'must be a finite number greater than 0' });
    expect(issuesOf({ ...generic, defaultLifetimeMs: '3600' })).toEqual({ defaultLifetimeMs: 'must be a number' });
    expect(issuesOf({ ...generic, defaultLifetimeMs: 2 ** 31 })).toHaveProperty('defaultLifetimeMs');
    expect(issuesOf({ ...generic, diagnosticHeaders: ['X-Request-Id', 'x-okta-request-id'] })).toEqual({});
    expect(issuesOf({ ...generic, diagnosticHeaders: ['bad header'] })).toEqual({ 'diagnosticHeaders.0': 'must be a header name' });
  });

  it('should refuse a colon in clientId only where Basic sends it as it is, and the server would split there', () => {
    const colon = "must not contain ':' with authMethod 'client_secret_basic_unencoded' (the server splits at the first colon)";
    expect(issuesOf({ ...generic, clientId: 'a:b', authMethod: 'client_secret_basic_unencoded' })).toEqual({ clientId: colon });
    expect(issuesOf({ ...paypal, clientId: 'a:b' })).toEqual({ clientId: colon });
    expect(issuesOf({ ...generic, clientId: 'a:b' })).toEqual({});
    expect(issuesOf({ ...generic, clientId: 'a:b', authMethod: 'client_secret_post' })).toEqual({});
  });
});

describe('createClientCredentialsProvider settings', () => {
  it('should throw a ConfigurationError naming the settings and never their values', () => {
    let caught: unknown;
    try {
      createClientCredentialsProvider({
        ...generic,
        clientSecret: 'bad\u0000secret-value',
        tokenUrl: 'https://auth.example.com/#secret-value',
      });
    } catch (error) {
      caught = error;
    }
    expect(isConfigurationError(caught)).toBe(true);
    expect(caught).toMatchObject({ provider: 'oauth2', issues: [{ path: 'clientSecret' }, { path: 'tokenUrl' }] });
    for (const text of [(caught as Error).message, JSON.stringify(caught), inspect(caught)]) expect(text).not.toContain('secret-value');
  });

  it('should give different scopes, audiences or token URLs different cache keys, and show no secret', () => {
    const keys = [
      generic,
      { ...generic, scope: 'read' },
      { ...generic, audience: 'a' },
      { ...generic, tokenUrl: 'https://b.example/t' },
    ].map((settings) => createClientCredentialsProvider(settings).cacheKey);
    expect(new Set(keys).size).toBe(4);
    const provider = createClientCredentialsProvider(generic);
    for (const text of [JSON.stringify(provider), inspect(provider, { showHidden: true, depth: 5 })]) expect(text).not.toContain('secret+');
  });
});
