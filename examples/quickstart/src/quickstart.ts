/**
 * Quick start: one i'mport merchant, a few API calls, one token. Runs against the local i'mport emulator, so it
 * needs no account and no network. With real credentials, drop the emulator and the `baseUrl`.
 */
import { createAuthFetch } from '@x/core';
import { createIamportProvider } from '@x/iamport';
import { createIamportEmulator } from '@x/iamport/testing';

/** Runs the example, printing through `log`. */
export async function runQuickstart(log: (line: string) => void = console.log): Promise<void> {
  // Tokens marked `xcanary`, like the secrets, so the repository's leak tests find one that is printed.
  const emulator = await createIamportEmulator({ tokenFormat: 'canary' });
  try {
    const iamport = createAuthFetch(createIamportProvider({ ...emulator.defaultMerchant, baseUrl: emulator.url }), {
      onEvent: (event) => {
        if (event.type === 'token-requested') log(`token requested (${event.reason})`);
      },
    });

    for (const impUid of ['imp_448280090638', 'imp_448280090639', 'imp_448280090640']) {
      const response = await iamport(`/payments/${impUid}`);
      const { response: payment } = (await response.json()) as { response: { status: string; amount: number } };
      log(`GET /payments/${impUid} -> ${response.status} ${payment.status} ${payment.amount}`);
    }
    log(`token requests: ${emulator.counters.tokenRequests}, API calls: ${emulator.counters.apiCalls}`);
  } finally {
    await emulator.close();
  }
}
