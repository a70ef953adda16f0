import type { IamportEmulatorMerchant } from '@x/iamport/testing';

/** How many distinct credentials the emulator accepts: one per merchant figure 5 uses. */
export const emulatorMerchantCount = 10_000;

/** The `index`th merchant's credentials, the same in the emulator's process and the benchmark's. */
export function benchCredentials(index: number): IamportEmulatorMerchant {
  return { impKey: `bench_key_${index}`, impSecret: `bench-secret-${index}-Zx8Kq2Lm9Rt4Vw7Y` };
}
