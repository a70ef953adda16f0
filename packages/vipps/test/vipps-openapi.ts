/**
 * Checks answers against Vipps MobilePay's published OpenAPI descriptions, vendored in `test/fixtures/` (sources and
 * dates in its README): the operation must document the answer's status, and the body must validate against the
 * schema documented for it. Used by the emulator's OpenAPI tests; not exported.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import ajvFormats from 'ajv-formats';
import { parse } from 'yaml';

/** The vendored descriptions, by file name in `test/fixtures/`. */
export type VippsOpenApiFile = 'vipps-access-token-openapi.yaml' | 'vipps-epayment-openapi.yaml';

/** Checks one answer: what is wrong with it, as readable lines; `[]` when it agrees with the description. */
export type VippsOpenApiCheck = (method: string, path: string, status: number, body: unknown) => string[];

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
  components?: { schemas?: Record<string, { required?: string[] }> };
}

/**
 * Loads a vendored description and returns a checker for answers to its operations. One repair is made, and only in
 * memory: the ePayment description's `PaymentEvent` lists `paymentAction` as required but defines no such property
 * (its own guide and the official SDK's types name the field `name`); left in, no event the gateway documents could
 * validate.
 */
export function loadVippsOpenApi(file: VippsOpenApiFile): VippsOpenApiCheck {
  const document = parse(readFileSync(new URL(`./fixtures/${file}`, import.meta.url), 'utf8')) as OpenApiDocument;
  const paymentEvent = document.components?.schemas?.PaymentEvent;
  if (paymentEvent?.required !== undefined) paymentEvent.required = paymentEvent.required.filter((field) => field !== 'paymentAction');

  // OpenAPI 3.0 schemas are JSON Schema with extra keywords (`example`, `x-…`): not strict. `nullable` is Ajv's own.
  const ajv = new Ajv({ strict: false, allErrors: true });
  // A CommonJS module: under NodeNext its default import is `module.exports`, whose `default` is the plugin.
  ajvFormats.default(ajv);
  ajv.addFormat('int64', { type: 'number', validate: (value: number) => Number.isSafeInteger(value) });
  // "A base64-encoded string", the description says of `access_token`, and shows a JWT: base64url parts joined by dots.
  ajv.addFormat('byte', /^[A-Za-z0-9+/_-]+={0,2}(?:\.[A-Za-z0-9+/_-]+={0,2})*$/);
  ajv.addSchema(document as object, file);

  const operations = Object.entries(document.paths).map(([template, item]) => ({
    pattern: new RegExp(`^${template.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{[^}]+\\\}/g, '[^/]+')}$`),
    template,
    item,
  }));

  return (method, path, status, body) => {
    const operation = operations.find(({ pattern }) => pattern.test(path.split('?')[0]!));
    const responses = operation?.item[method.toLowerCase()]?.responses;
    if (operation === undefined || responses === undefined) return [`${method} ${path}: no such operation in ${file}`];
    let response = responses[String(status)] as { $ref?: string; content?: Record<string, { schema?: unknown }> } | undefined;
    if (response === undefined) return [`${method} ${operation.template}: status ${status} is not documented`];
    if (response.$ref !== undefined) response = resolve(document, response.$ref) as typeof response;
    const media = Object.keys(response?.content ?? {});
    if (media.length === 0) return [];
    const pointer = `#/paths/${pointerSegment(operation.template)}/${method.toLowerCase()}/responses/${status}`;
    const schemaRef =
      responses[String(status)] !== response
        ? `${(responses[String(status)] as { $ref: string }).$ref}/content/${pointerSegment(media[0]!)}/schema`
        : `${pointer}/content/${pointerSegment(media[0]!)}/schema`;
    const validate = ajv.getSchema(`${file}${schemaRef}`);
    if (validate === undefined) return [`${schemaRef}: cannot be resolved`];
    return validate(body) ? [] : (validate.errors ?? []).map((error: ErrorObject) => `${error.instancePath || '(body)'} ${error.message}`);
  };
}

/** A JSON pointer segment as a URI fragment holds it: `~` and `/` escaped, then percent-encoded (`{reference}`). */
function pointerSegment(segment: string): string {
  return encodeURIComponent(segment.replaceAll('~', '~0').replaceAll('/', '~1'));
}

function resolve(document: unknown, ref: string): unknown {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((node, segment) => (node as Record<string, unknown>)[segment.replaceAll('~1', '/').replaceAll('~0', '~')], document);
}
