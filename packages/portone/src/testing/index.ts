/**
 * A local PortOne V2: both token endpoints with refresh-token rotation, and the payment API with either authorization
 * scheme, on 127.0.0.1, with the `@x/core/testing` emulator kit's faults, for tests and examples.
 *
 * @categoryDescription Emulator
 * Start one, point a provider at its `url`, and steer it: {@link createPortOneEmulator}, {@link PortOneEmulator},
 * {@link PortOneEmulatorOptions}, {@link PortOneEmulatorMerchant}, {@link portOneEmulatorDefaultMerchant},
 * {@link PortOneEmulatorCounters}.
 *
 * @categoryDescription Faults
 * The kit's fault vocabulary, aimed at PortOne's endpoints: {@link PortOneFault}, {@link PortOneFaultTarget}.
 *
 * @module \@x/portone/testing
 */
export type {
  PortOneEmulator,
  PortOneEmulatorCounters,
  PortOneEmulatorMerchant,
  PortOneEmulatorOptions,
  PortOneFault,
  PortOneFaultTarget,
} from './portone-emulator.js';
export { createPortOneEmulator, portOneEmulatorDefaultMerchant } from './portone-emulator.js';
