// @ts-check
import { Converter } from 'typedoc';

/**
 * TypeDoc warns "X has multiple declarations with a comment" when TypeScript hands it one declaration twice, which
 * happens to valibot's inferred types seen through a mapped type (`Partial<IamportPayment>` in the i'mport emulator's
 * options): both "declarations" are the same line (TypeStrong/typedoc#2358). Such a warning is held back until
 * TypeDoc lists the locations, and dropped only when they are all one place; a real conflict is still reported, and
 * still fails the build under `treatWarningsAsErrors`.
 *
 * @param {import('typedoc').Application} app
 */
export function load(app) {
  const { logger } = app;
  const warn = logger.warn.bind(logger);
  const info = logger.info.bind(logger);
  /** @type {Parameters<typeof warn> | undefined} */
  let held;
  const release = () => {
    if (held === undefined) return;
    const warning = held;
    held = undefined;
    warn(...warning);
  };
  logger.warn = (text, ...rest) => {
    release();
    if (String(text).includes(' has multiple declarations with a comment.')) held = [text, ...rest];
    else warn(text, ...rest);
  };
  logger.info = (text) => {
    if (held !== undefined && String(text).startsWith('The comments for ')) {
      const locations = String(text).split('\n').slice(1);
      if (new Set(locations.map((location) => location.trim())).size === 1) {
        held = undefined;
        return;
      }
    }
    release();
    info(text);
  };
  app.converter.on(Converter.EVENT_END, release);
}
