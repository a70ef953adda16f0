import type { AuthFetch } from './bearer-fetch.js';
import type { CachePolicy } from './cache-policy.js';
import { type Clock, systemClock } from './clock.js';
import { ConfigurationError, isTokenRequestError, MerchantResolveError, RegistryClosedError, UnknownMerchantError } from './errors.js';
import { merchantIssues, merchantsIssues, sameSettings, splitEntry } from './merchant-checks.js';
import { cacheHealthEntry, type MerchantHealth, unheldEntry } from './merchant-health.js';
import type {
  MerchantRegistryOptions,
  MerchantReloadResult,
  MerchantSettings,
  ProviderFactory,
  ResolveMerchant,
} from './merchant-registry.js';
import { merchantIdProblem, printableName } from './settings-checks.js';
import { createTokenCache, type TokenCache } from './token-cache.js';
import type { TokenProvider } from './token-provider.js';
import type { TokenStore } from './token-store.js';

/** A token cache and the merchants that use it (merchants with the same credentials share one token). */
export interface SharedCache {
  readonly cache: TokenCache;
  /** The registry's own list; never handed out. */
  readonly merchants: string[];
  /** A frozen copy of `merchants` for events and errors, made when first needed after the list changed. */
  snapshot: readonly string[] | undefined;
  /** The bearer fetch of the merchants whose provider is the cache's own (same credentials, same API headers). */
  authFetch: AuthFetch | undefined;
}

/**
 * The merchants of a cache as events and errors carry them: a frozen copy, so the list a listener got stays as it was
 * and emptying it cannot erase merchant names from the registry's later errors.
 */
export function merchantsOf(shared: SharedCache): readonly string[] {
  shared.snapshot ??= Object.freeze([...shared.merchants]);
  return shared.snapshot;
}

/** A merchant whose settings are in hand, and what was built from them. Replaced as a whole, never changed in place. */
export interface HeldMerchant {
  readonly id: string;
  /** The entry as checked: own properties only. */
  readonly settings: MerchantSettings;
  /** From `resolveMerchant` (asked again after `merchantTtlMs`), not from the configuration. */
  readonly resolved: boolean;
  /** Monotonic time from which a resolved merchant is asked again, in the background. */
  refreshAt: number;
  readonly provider: TokenProvider;
  readonly shared: SharedCache;
  /** Created on the first call through the registry's fetch. */
  authFetch: AuthFetch | undefined;
  /** The registry's fetch for this merchant, handed out while it is held (a new one after it was evicted). */
  live: AuthFetch | undefined;
  /** Where it stands in the least-recently-used order: the count of moves when it last moved to the back. */
  position: number;
  /** The last rejection of its credentials and what asking the source again gave: each rejection asks once. */
  rejection: { readonly error: unknown; readonly next: Promise<HeldMerchant | undefined> } | undefined;
  /** Replaced, removed or evicted: it left its cache, and calls still on it finish on it. */
  retired: boolean;
}

/** A resolver call in flight, stopped by its time limit or by `close()`. */
interface PendingAsk {
  stop(error: unknown): void;
}

/** How long a resolved merchant's settings are used before they are asked again. */
export const defaultMerchantTtlMs = 300_000;
/** How long a resolver may take. */
export const defaultResolveTimeoutMs = 5_000;
/** The most a failed background re-resolve waits before the next try. */
const refreshRetryMaxMs = 30_000;

/**
 * What the registry knows of its merchants: the configured ones (`merchants`, `update`, `reload`), those resolved on
 * demand, the ones held (provider and cache built, least recently used dropped first), and the caches they share.
 * Every answer it gives is for the settings in force when it is asked; a merchant replaced meanwhile is retired, so a
 * call that started on it finishes on it and never mixes two credentials.
 */
export class MerchantDirectory {
  readonly #options: MerchantRegistryOptions;
  readonly #providers: Readonly<Record<string, ProviderFactory>>;
  /** The provider names, read once: every entry is checked against them. */
  readonly #known: readonly string[];
  readonly #resolver: ResolveMerchant | undefined;
  readonly #ttlMs: number;
  readonly #resolveTimeoutMs: number;
  readonly #maxHeld: number;
  readonly #clock: Clock;
  readonly #store: TokenStore;
  /** Merchants configured by `merchants`, `update` and `reload`: asked before the resolver. */
  #configured: Map<string, MerchantSettings>;
  /** Removed ids: the resolver is not asked for them until `update` or `reload` adds them back. */
  readonly #removed = new Set<string>();
  /** Merchants in hand, least recently used first. */
  readonly #held = new Map<string, HeldMerchant>();
  /** First resolutions in flight: concurrent calls for one merchant share one. */
  readonly #resolving = new Map<string, Promise<HeldMerchant | undefined>>();
  /** One cache per credential (`cacheKey`), while a held merchant uses it. */
  readonly #caches = new Map<string, SharedCache>();
  /** The cache policy layered over `policy` for each provider name: caches of one provider share one object. */
  readonly #policyOf = new Map<string, Partial<CachePolicy>>();
  readonly #asks = new Set<PendingAsk>();
  #moves = 0;
  #closed = false;

  constructor(options: MerchantRegistryOptions, known: readonly string[], store: TokenStore) {
    this.#options = options;
    this.#providers = options.providers;
    this.#known = known;
    this.#resolver = options.resolveMerchant;
    this.#ttlMs = options.merchantTtlMs ?? defaultMerchantTtlMs;
    this.#resolveTimeoutMs = options.resolveTimeoutMs ?? defaultResolveTimeoutMs;
    this.#maxHeld = options.maxActiveMerchants ?? Number.POSITIVE_INFINITY;
    this.#clock = options.clock ?? systemClock;
    this.#store = store;
    this.#configured = entriesOf(options.merchants);
  }

  /** Whether a rejected merchant can be asked for again (there is a resolver). */
  get resolves(): boolean {
    return this.#resolver !== undefined;
  }

  /**
   * The merchant in hand now, without waiting (held, or built from its configured entry), or `undefined` when only
   * the resolver can say. Throws `UnknownMerchantError` when no source has it, `RegistryClosedError` after `close()`.
   */
  inHand(merchantId: string): HeldMerchant | undefined {
    if (this.#closed) throw new RegistryClosedError(typeof merchantId === 'string' ? printableName(merchantId) : undefined);
    const held = this.#held.get(merchantId);
    if (held !== undefined) {
      this.#touch(held);
      if (held.resolved && this.#clock.monotonic() >= held.refreshAt) this.#refresh(held);
      return held;
    }
    const settings = this.#configured.get(merchantId);
    if (settings !== undefined) return this.#hold(merchantId, settings, false);
    if (this.#resolver === undefined || typeof merchantId !== 'string' || merchantIdProblem(merchantId) !== undefined) {
      throw new UnknownMerchantError(printableName(String(merchantId)));
    }
    if (this.#removed.has(merchantId)) throw new UnknownMerchantError(printableName(merchantId), 'removed');
    return undefined;
  }

  /** The merchant, resolved if need be (one resolution for concurrent calls). */
  async obtain(merchantId: string): Promise<HeldMerchant> {
    const merchant = this.inHand(merchantId) ?? (await this.#resolveFirst(merchantId));
    if (merchant === undefined) throw new UnknownMerchantError(printableName(merchantId));
    return merchant;
  }

  /**
   * Runs `use` with the merchant; when the gateway rejects its credentials, asks the source again (once per
   * rejection, before the error reaches the caller) and, if the settings changed, runs `use` once more with them.
   */
  async withMerchant<T>(merchantId: string, use: (merchant: HeldMerchant) => Promise<T>): Promise<T> {
    const merchant = this.inHand(merchantId) ?? (await this.obtain(merchantId));
    try {
      return await use(merchant);
    } catch (error) {
      if (!isTokenRequestError(error) || error.reason !== 'rejected') throw error;
      const next = await this.#afterRejection(merchant, error);
      if (next === undefined) throw error;
      return use(next);
    }
  }

  /** Whether the id is configured or held now. */
  has(merchantId: string): boolean {
    return !this.#closed && (this.#configured.has(merchantId) || this.#held.has(merchantId));
  }

  /** The ids configured, then those resolved and held. */
  ids(): string[] {
    if (this.#closed) return [];
    const ids = [...this.#configured.keys()];
    for (const id of this.#held.keys()) if (!this.#configured.has(id)) ids.push(id);
    return ids;
  }

  /**
   * The health of the caches of `merchantIds` (default: every held merchant), one entry per cache, in the order first
   * asked. Reads only: no merchant is built, held, or moved in the least-recently-used order.
   */
  health(merchantIds: readonly string[] | undefined): MerchantHealth[] {
    const entries: MerchantHealth[] = [];
    if (merchantIds === undefined) {
      const seen = new Set<SharedCache>();
      for (const { shared } of this.#closed ? [] : this.#held.values()) {
        if (seen.has(shared)) continue;
        seen.add(shared);
        entries.push(cacheHealthEntry(shared.cache, merchantsOf(shared), shared.merchants.length));
      }
      return entries;
    }
    // The asked merchants of each cache, filled in as they come: an answer as long as the question, however many share.
    const askedOf = new Map<SharedCache, string[]>();
    for (const merchantId of new Set(merchantIds)) {
      const held = this.#closed ? undefined : this.#held.get(merchantId);
      if (held === undefined) {
        entries.push(this.#unheldHealth(merchantId));
        continue;
      }
      const asked = askedOf.get(held.shared);
      if (asked !== undefined) {
        asked.push(merchantId);
        continue;
      }
      const merchants = [merchantId];
      askedOf.set(held.shared, merchants);
      entries.push(cacheHealthEntry(held.shared.cache, merchants, held.shared.merchants.length));
    }
    return entries;
  }

  /** A merchant not held: `cold` when a call would build it (configured, or the resolver may have it), else `unknown`. */
  #unheldHealth(merchantId: string): MerchantHealth {
    const name = typeof merchantId === 'string' ? printableName(merchantId) : printableName(String(merchantId));
    if (this.#closed || typeof merchantId !== 'string') return unheldEntry(name, undefined, 'unknown');
    const settings = this.#configured.get(merchantId);
    if (settings !== undefined)
      return unheldEntry(merchantId, typeof settings.provider === 'string' ? settings.provider : undefined, 'cold');
    const callable = this.#resolver !== undefined && !this.#removed.has(merchantId) && merchantIdProblem(merchantId) === undefined;
    return unheldEntry(name, undefined, callable ? 'cold' : 'unknown');
  }

  update(merchantId: string, settings: MerchantSettings): void {
    this.#assertOpen();
    const issues = merchantIssues(this.#providers, this.#known, merchantId, settings);
    if (issues.length > 0) throw new ConfigurationError({ issues });
    this.#configured.set(merchantId, settings);
    this.#removed.delete(merchantId);
    this.#replaceHeld(merchantId, settings);
  }

  remove(merchantId: string): void {
    this.#assertOpen();
    this.#configured.delete(merchantId);
    // Only a resolver could bring it back; without one, not being configured is enough.
    if (this.#resolver !== undefined) this.#removed.add(merchantId);
    this.#drop(merchantId);
  }

  reload(merchants: Readonly<Record<string, MerchantSettings>>): MerchantReloadResult {
    this.#assertOpen();
    const issues = merchantsIssues(this.#providers, this.#known, merchants);
    if (issues.length > 0) throw new ConfigurationError({ issues });
    const next = entriesOf(merchants);
    const result: MerchantReloadResult = { added: [], changed: [], removed: [], unchanged: [] };
    for (const [id, entry] of next) {
      const previous = this.#configured.get(id);
      if (previous === undefined) result.added.push(id);
      else (sameSettings(previous, entry) ? result.unchanged : result.changed).push(id);
    }
    for (const id of this.#configured.keys()) if (!next.has(id)) result.removed.push(id);
    this.#configured = next;
    for (const id of result.removed) {
      if (this.#resolver !== undefined) this.#removed.add(id);
      this.#drop(id);
    }
    for (const id of [...result.added, ...result.changed]) {
      this.#removed.delete(id);
      this.#replaceHeld(id, next.get(id)!);
    }
    return result;
  }

  /** Stops every resolver call (their signals abort) and refuses every later call. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ask of [...this.#asks]) ask.stop(new RegistryClosedError());
    for (const merchant of this.#held.values()) this.#retire(merchant);
    this.#held.clear();
  }

  #assertOpen(): void {
    if (this.#closed) throw new RegistryClosedError();
  }

  /**
   * Builds the merchant's provider, joins (or creates) the cache of its credentials, and holds it. An entry not
   * `checked` just now is checked again: entries are kept as given, and their owner may have changed one since.
   */
  #hold(merchantId: string, settings: MerchantSettings, resolved: boolean, checked = false): HeldMerchant {
    if (!checked) {
      const issues = merchantIssues(this.#providers, this.#known, merchantId, settings);
      if (issues.length > 0) throw new ConfigurationError({ issues });
    }
    const { name, policy, settings: gatewaySettings } = splitEntry(settings);
    let provider = this.#providers[name]!(gatewaySettings);
    let shared = this.#caches.get(provider.cacheKey);
    if (shared === undefined) {
      shared = this.#createShared(provider, name, policy);
      this.#caches.set(provider.cacheKey, shared);
    } else if (sameApiHeaders(provider.apiHeaders, shared.cache.provider.apiHeaders)) {
      // Same credentials and the same API headers: the cache's provider serves this merchant too, and so does its
      // bearer fetch, so a platform's sub-merchants on one account cost a record each, not a provider and a fetch.
      provider = shared.cache.provider;
    }
    shared.merchants.push(merchantId);
    shared.snapshot = undefined;
    const merchant: HeldMerchant = {
      id: merchantId,
      settings,
      resolved,
      refreshAt: resolved ? this.#clock.monotonic() + this.#ttlMs : Number.POSITIVE_INFINITY,
      provider,
      shared,
      authFetch: undefined,
      live: undefined,
      position: this.#moves++,
      rejection: undefined,
      retired: false,
    };
    const previous = this.#held.get(merchantId);
    // Deleted first, so the new one goes to the back of the order.
    this.#held.delete(merchantId);
    this.#held.set(merchantId, merchant);
    // After the new one joined: a cache both use (same credentials) stays, with its token.
    if (previous !== undefined) this.#retire(previous);
    this.#evictOverflow();
    return merchant;
  }

  #createShared(provider: TokenProvider, name: string, policy: Partial<CachePolicy> | undefined): SharedCache {
    const options = this.#options;
    const listener = options.onEvent;
    const shared = { merchants: [] as string[], snapshot: undefined, authFetch: undefined } as { cache: TokenCache } & Omit<
      SharedCache,
      'cache'
    >;
    // Annotated: the bearer fetches and interceptors over the cache name the merchants in their own errors too.
    shared.cache = createTokenCache(provider, {
      store: this.#store,
      policy: policy === undefined ? this.#providerPolicy(name) : { ...this.#providerPolicy(name), ...definedFields(policy) },
      fetch: options.fetch,
      clock: options.clock,
      onEvent: listener === undefined ? undefined : (event) => listener({ ...event, merchants: merchantsOf(shared) }),
      // Errors name the merchants; a cache shared by merchants with the same credentials names them all.
      merchants: () => merchantsOf(shared),
    });
    return shared;
  }

  /** `policy` with the provider's own layer from `policies` over it; one object per provider name. */
  #providerPolicy(name: string): Partial<CachePolicy> | undefined {
    const layer = this.#options.policies?.[name];
    if (layer === undefined) return this.#options.policy;
    let merged = this.#policyOf.get(name);
    if (merged === undefined) {
      merged = { ...definedFields(this.#options.policy), ...definedFields(layer) };
      this.#policyOf.set(name, merged);
    }
    return merged;
  }

  /** Leaves its cache (dropped with the last merchant using it); calls already on it finish on it. */
  #retire(merchant: HeldMerchant): void {
    if (merchant.retired) return;
    merchant.retired = true;
    const { shared } = merchant;
    const index = shared.merchants.indexOf(merchant.id);
    if (index >= 0) shared.merchants.splice(index, 1);
    shared.snapshot = undefined;
    if (shared.merchants.length === 0 && this.#caches.get(merchant.provider.cacheKey) === shared) {
      this.#caches.delete(merchant.provider.cacheKey);
    }
  }

  #drop(merchantId: string): void {
    const held = this.#held.get(merchantId);
    if (held === undefined) return;
    this.#held.delete(merchantId);
    this.#retire(held);
  }

  /** New settings for a merchant: a held one is rebuilt now (keeping its cache when the credentials are the same). */
  #replaceHeld(merchantId: string, settings: MerchantSettings): void {
    const held = this.#held.get(merchantId);
    if (held !== undefined && !(sameSettings(held.settings, settings) && !held.resolved)) this.#hold(merchantId, settings, false, true);
  }

  /**
   * Keeps the least-recently-used order cheaply: a merchant moves to the back only once at least half the bound has
   * moved past it, so a hot merchant costs a map lookup per call, not a delete and an insert.
   */
  #touch(merchant: HeldMerchant): void {
    if (merchant.position >= this.#moves - this.#maxHeld / 2) return;
    this.#held.delete(merchant.id);
    this.#held.set(merchant.id, merchant);
    merchant.position = this.#moves++;
  }

  #evictOverflow(): void {
    while (this.#held.size > this.#maxHeld) {
      const oldest = this.#held.values().next().value as HeldMerchant;
      this.#held.delete(oldest.id);
      this.#retire(oldest);
    }
  }

  #resolveFirst(merchantId: string): Promise<HeldMerchant | undefined> {
    let pending = this.#resolving.get(merchantId);
    if (pending === undefined) {
      pending = this.#ask(merchantId)
        .then((settings) => {
          // Things may have moved while the resolver answered: closed, removed, configured, or held by another path.
          const now = this.inHand(merchantId);
          if (now !== undefined || settings === undefined) return now;
          return this.#hold(merchantId, settings, true, true);
        })
        .finally(() => this.#resolving.delete(merchantId));
      this.#resolving.set(merchantId, pending);
    }
    return pending;
  }

  /** Asks the resolver again in the background once a resolved merchant's settings are older than `merchantTtlMs`. */
  #refresh(merchant: HeldMerchant): void {
    merchant.refreshAt = Number.POSITIVE_INFINITY;
    this.#ask(merchant.id)
      .then((settings) => this.#settle(merchant, settings))
      // Kept as they are: a source that fails (or gives an entry that cannot be built) is asked again later, not on
      // every call, and nothing rejects unhandled.
      .catch(() => {
        if (!merchant.retired) merchant.refreshAt = this.#clock.monotonic() + Math.min(this.#ttlMs, refreshRetryMaxMs);
      });
  }

  /** What the source said again about a held merchant: the same (kept), new settings (replaced) or nothing (gone). */
  #settle(merchant: HeldMerchant, settings: MerchantSettings | undefined): HeldMerchant | undefined {
    if (merchant.retired || this.#closed) return undefined;
    if (settings === undefined) {
      // Gone from the source: a configured merchant stays (the configuration is the word on it), a resolved one goes.
      if (merchant.resolved) this.#drop(merchant.id);
      return undefined;
    }
    if (sameSettings(settings, merchant.settings)) {
      if (merchant.resolved) merchant.refreshAt = this.#clock.monotonic() + this.#ttlMs;
      return undefined;
    }
    // The source's newer word replaces a configured entry too: it is why the source was asked.
    if (!merchant.resolved) this.#configured.set(merchant.id, settings);
    return this.#hold(merchant.id, settings, merchant.resolved, true);
  }

  /**
   * After the gateway rejected the merchant's credentials with `error`: the merchant to try again with (its settings
   * changed at the source), or `undefined` when the rejection stands. Each rejection asks the source once; callers
   * that share the rejection share the answer.
   */
  #afterRejection(merchant: HeldMerchant, error: unknown): Promise<HeldMerchant | undefined> {
    const seen = merchant.rejection;
    if (seen !== undefined && seen.error === error) return seen.next;
    if (merchant.retired) {
      // Replaced while the call was on it (a background re-resolve, an update): the new settings are worth a try.
      const current = this.#held.get(merchant.id);
      return Promise.resolve(current !== undefined && !sameSettings(current.settings, merchant.settings) ? current : undefined);
    }
    if (this.#resolver === undefined) return Promise.resolve(undefined);
    // A source that fails lets the rejection stand: the caller gets the gateway's word, not the source's trouble.
    const next = this.#ask(merchant.id)
      .then((settings) => this.#settle(merchant, settings))
      .catch(() => undefined);
    merchant.rejection = { error, next };
    return next;
  }

  /**
   * Calls the resolver, bounded by `resolveTimeoutMs` and stopped by `close()` (its signal aborts either way), and
   * checks its answer like any configured entry.
   */
  #ask(merchantId: string): Promise<MerchantSettings | undefined> {
    const resolver = this.#resolver!;
    const name = printableName(merchantId);
    return new Promise((resolve, reject) => {
      const controller = new AbortController();
      const settle = (finish: () => void): void => {
        if (!this.#asks.delete(ask)) return;
        clearTimeout(timer);
        finish();
      };
      const ask: PendingAsk = {
        stop: (error) =>
          settle(() => {
            controller.abort(error);
            reject(error);
          }),
      };
      const timer = setTimeout(() => {
        const message = `Resolving merchant "${name}" took longer than ${this.#resolveTimeoutMs} ms`;
        ask.stop(new MerchantResolveError(message, { merchant: name, reason: 'timeout' }));
      }, this.#resolveTimeoutMs);
      this.#asks.add(ask);
      Promise.resolve()
        .then(() => resolver(merchantId, { signal: controller.signal }))
        .then(
          (entry) =>
            settle(() =>
              entry === undefined || entry === null ? resolve(undefined) : this.#checkResolved(merchantId, entry, resolve, reject),
            ),
          (error: unknown) =>
            settle(() => {
              // The name only: a database's message may quote a connection string. The error itself is the cause.
              const why = error instanceof Error ? error.name : typeof error;
              reject(
                new MerchantResolveError(`Resolving merchant "${name}" failed (${why})`, {
                  merchant: name,
                  reason: 'failed',
                  cause: error,
                }),
              );
            }),
        );
    });
  }

  #checkResolved(
    merchantId: string,
    entry: unknown,
    resolve: (settings: MerchantSettings) => void,
    reject: (error: unknown) => void,
  ): void {
    const issues = merchantIssues(this.#providers, this.#known, merchantId, entry);
    if (issues.length > 0) reject(new ConfigurationError({ issues }));
    else resolve(entry as MerchantSettings);
  }
}

/**
 * A configuration's entries as the directory keeps them, in the configuration's order: the entries themselves, not
 * copies (a million configured merchants would cost a copy each); each is checked again when it is built.
 */
function entriesOf(merchants: Readonly<Record<string, MerchantSettings>> | undefined): Map<string, MerchantSettings> {
  const entries = new Map<string, MerchantSettings>();
  if (merchants === undefined) return entries;
  for (const id of Object.keys(merchants)) entries.set(id, merchants[id]!);
  return entries;
}

/** The fields that are set: an `undefined` in a layer means "not set here", not "unset below". */
function definedFields(layer: Partial<CachePolicy> | undefined): Partial<CachePolicy> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(layer ?? {})) if (value !== undefined) fields[key] = value;
  return fields as Partial<CachePolicy>;
}

/** Whether two providers' API headers are the same names (in any case) with the same values. */
function sameApiHeaders(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  const entries = (headers: Readonly<Record<string, string>> | undefined): string[] =>
    Object.entries(headers ?? {})
      .map(([name, value]) => `${name.toLowerCase()}\n${value}`)
      .sort();
  const left = entries(a);
  const right = entries(b);
  return left.length === right.length && left.every((entry, index) => entry === right[index]);
}
