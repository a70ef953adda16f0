// @ts-check
import { Comment, CommentTag, Converter, ReflectionKind } from 'typedoc';

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
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => categorizeByDescription(context.project, logger));
}

/**
 * Files each export of an entry point under the `@categoryDescription` of its module comment that links to it, so the
 * reference reads by task. The categories are written once, in the entry point's `index.ts`, and not as `@category`
 * tags on the declarations (TypeDoc reads a comment on an `export { … } from` statement as the declaration's whole
 * comment, and ignores one on `export type { … }`). A renamed export breaks its link, which `validation.invalidLink`
 * reports; an export no description links to is reported here, so that nothing lands in "Other" unnoticed.
 *
 * @param {import('typedoc').ProjectReflection} project
 * @param {import('typedoc').Logger} logger
 */
function categorizeByDescription(project, logger) {
  for (const module of project.getReflectionsByKind(ReflectionKind.Module)) {
    const descriptions = module.comment?.blockTags.filter((tag) => tag.tag === '@categoryDescription') ?? [];
    if (descriptions.length === 0 || !module.isDeclaration()) continue;
    /** @type {Map<string, string>} */
    const categoryOf = new Map();
    for (const description of descriptions) {
      const { header, body } = Comment.splitPartsToHeaderAndBody(description.content);
      for (const part of body) {
        if (part.kind === 'inline-tag' && part.tag === '@link') categoryOf.set(part.text.split(/[\s|]/)[0], header);
      }
    }
    for (const child of module.children ?? []) {
      const category = categoryOf.get(child.name);
      if (category === undefined) {
        logger.warn(
          `${child.getFriendlyFullName()} has no category: link it from a @categoryDescription of its entry point's module comment.`,
        );
        continue;
      }
      // A function's comment is on its signature: one there keeps the declaration free of an empty comment.
      if (child.comment === undefined && child.signatures?.[0]?.comment === undefined) child.comment = new Comment();
      const comment = child.comment ?? child.signatures?.[0]?.comment;
      comment?.blockTags.push(new CommentTag('@category', [{ kind: 'text', text: category }]));
    }
  }
}
