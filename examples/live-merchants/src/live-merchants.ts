/**
 * Live merchants: merchants read from a database on demand, a secret rotated while the calls go on, and a merchant
 * offboarded. Runs against the local i'mport emulator, so it needs no account and no network; the "database" is a
 * Map with a millisecond of latency. The root README's "Merchants from a database", "Rotating a secret" and
 * "Offboarding a merchant" are excerpts of this file.
 */
import { createMerchantRegistry, isUnknownMerchantError, type MerchantSettings } from '@x/core';
import { createIamportProvider } from '@x/iamport';
import { createIamportEmulator } from '@x/iamport/testing';

/** A table of merchants, as a platform keeps them: the id, the gateway and its settings (secrets included here). */
class MerchantTable {
  readonly #rows = new Map<string, MerchantSettings>();
  queries = 0;

  set(merchantId: string, settings: MerchantSettings): void {
    this.#rows.set(merchantId, settings);
  }

  delete(merchantId: string): void {
    this.#rows.delete(merchantId);
  }

  /** One query, a millisecond away; honours the registry's signal as a database driver would. */
  async find(merchantId: string, signal: AbortSignal): Promise<MerchantSettings | undefined> {
    this.queries += 1;
    await new Promise((resolve) => setTimeout(resolve, 1));
    signal.throwIfAborted();
    return this.#rows.get(merchantId);
  }
}

/** Runs the three scenes, printing through `log`. */
export async function runLiveMerchants(log: (line: string) => void = console.log): Promise<void> {
  // Tokens marked `xcanary`, like the secrets, so the repository's leak tests find one that is printed.
  const emulator = await createIamportEmulator({ tokenFormat: 'canary' });
  const { impKey, impSecret } = emulator.defaultMerchant;
  const db = new MerchantTable();
  db.set('shop-kr', { provider: 'iamport', impKey, impSecret, baseUrl: emulator.url });

  // Merchants from a database: asked on a merchant's first call, kept for merchantTtlMs, asked again at once when
  // the gateway rejects the merchant's credentials; at most maxActiveMerchants held.
  const registry = createMerchantRegistry({
    providers: { iamport: createIamportProvider },
    resolveMerchant: (merchantId, { signal }) => db.find(merchantId, signal),
    merchantTtlMs: 5 * 60_000,
    maxActiveMerchants: 10_000,
  });
  try {
    const shop = registry.fetch('shop-kr');
    const calls = await Promise.all(Array.from({ length: 10 }, (_, i) => shop(`/payments/imp_4482800906${i}`)));
    log(`merchants from a database: ${calls.length} calls -> ${[...new Set(calls.map((r) => r.status))].join(', ')}`);
    log(`  database queries: ${db.queries}, token requests: ${emulator.counters.tokenRequests}`);
    const unknown = await registry
      .fetch('shop-nowhere')('/payments/imp_1')
      .catch((error: unknown) => error);
    log(`  an id the database does not have: ${isUnknownMerchantError(unknown) ? unknown.code : 'answered?'}`);

    // Rotating a secret: the gateway accepts the new secret beside the old, the database gets it, the old one is
    // revoked. The registry needs no call: on the first rejection of the old secret it asks the database again,
    // before the error reaches the caller. (`registry.update(id, settings)` tells it at once instead.)
    const newSecret = `xcanary-rotated-${crypto.randomUUID()}`;
    emulator.addSecret(impKey, newSecret);
    db.set('shop-kr', { provider: 'iamport', impKey, impSecret: newSecret, baseUrl: emulator.url });
    emulator.revokeSecret(impKey, impSecret);
    emulator.revoke(); // the gateway also drops the token issued before, so the next call needs a new one
    const afterRotation = await shop('/payments/imp_448280090638');
    const [oldSecret, rotated] = emulator.secretCountersFor(impKey);
    log(`rotating a secret: the call after the revocation -> ${afterRotation.status}`);
    log(
      `  token requests with the old secret after its revocation: ${oldSecret?.revokedTokenRequests}, with the new one: ${rotated?.tokenRequests}; database queries: ${db.queries}`,
    );

    // Offboarding a merchant: delete it at the source, and tell every server at once (or wait merchantTtlMs).
    db.delete('shop-kr');
    await registry.remove('shop-kr');
    const apiCallsBefore = emulator.counters.apiCalls;
    const refused = await shop('/payments/imp_448280090638').catch((error: unknown) => error);
    log(
      `offboarding a merchant: a call through the fetch handed out before -> ${isUnknownMerchantError(refused) ? refused.code : 'sent?'}`,
    );
    log(`  API calls that reached the gateway after the removal: ${emulator.counters.apiCalls - apiCallsBefore}`);
  } finally {
    await registry.close();
    await emulator.close();
  }
}
