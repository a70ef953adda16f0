/**
 * i'mport's published OpenAPI (`fixtures/iamport-openapi.json`, Swagger 2.0; source and date in `fixtures/README.md`)
 * as validators of the emulator's answers. Used by `iamport-emulator-openapi.test.ts`; not exported.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';

/** One response of an operation, as Swagger 2.0 describes it. */
export interface OpenApiResponse {
  description: string;
  schema?: object;
}

/** One operation (a path and method), as Swagger 2.0 describes it. */
export interface OpenApiOperation {
  operationId: string;
  consumes?: string[];
  responses: Record<string, OpenApiResponse>;
}

interface OpenApiDocument {
  swagger: string;
  host: string;
  paths: Record<string, Record<string, OpenApiOperation>>;
  definitions: Record<string, unknown>;
}

/** The vendored document, as published. */
export const iamportOpenApi: OpenApiDocument = JSON.parse(
  readFileSync(new URL('./fixtures/iamport-openapi.json', import.meta.url), 'utf8'),
);

/** Keywords whose value JSON Schema requires to be a number, which the document sometimes writes as a string. */
const numericKeywords = new Set(['maxLength', 'minLength', 'maxItems', 'minItems', 'maximum', 'minimum']);

/**
 * The document read as JSON Schema, with two readings of what it cannot or does not say right, and nothing else
 * relaxed:
 * - Swagger 2.0 has no way to say a value may be `null`, yet i'mport's own guide answers `"message": null` on
 *   success (the Swagger's `ResponseAnnotation` types `message` as a string). So a property a schema does not list as
 *   `required` may also be `null`; a required one must have its type.
 * - The document writes some numeric keywords as strings (`"maxLength": "32"` on `PaymentAnnotation.imp_uid`), which
 *   a validator refuses as a schema: they are read as the numbers they spell.
 */
function readAsJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(readAsJsonSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const object = Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [
      key,
      numericKeywords.has(key) && typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : readAsJsonSchema(value),
    ]),
  );
  if (object.properties !== null && typeof object.properties === 'object') {
    const required = new Set(Array.isArray(object.required) ? (object.required as string[]) : []);
    object.properties = Object.fromEntries(
      Object.entries(object.properties as Record<string, unknown>).map(([name, property]) => [
        name,
        required.has(name) ? property : { anyOf: [property, { type: 'null' }] },
      ]),
    );
  }
  return object;
}

// `strict: false`: the document carries `x-portone-*` keywords, which JSON Schema does not know and which say nothing
// about validity; formats such as `int32` are Swagger's, not JSON Schema's.
const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema({ definitions: readAsJsonSchema(iamportOpenApi.definitions) }, 'iamport-openapi');

/** The operation at `method path`; throws when the document has none. */
export function openApiOperation(path: string, method: string): OpenApiOperation {
  const operation = iamportOpenApi.paths[path]?.[method];
  if (operation === undefined) throw new Error(`The OpenAPI has no ${method.toUpperCase()} ${path}`);
  return operation;
}

/** What is wrong with `value` as the definition `name` (e.g. `PaymentResponse`): `[]` when it is valid. */
export function openApiProblems(name: string, value: unknown): string[] {
  const validate = ajv.getSchema(`iamport-openapi#/definitions/${name}`);
  if (validate === undefined) throw new Error(`The OpenAPI has no definition ${name}`);
  if (validate(value)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`);
}

/**
 * What is wrong with an answer of `status` to `method path`: the status must be one the operation lists, and the body
 * must match the schema it gives that status (when it gives one). `[]` when the answer agrees with the document.
 */
export function openApiAnswerProblems(path: string, method: string, status: number, body: unknown): string[] {
  const response = openApiOperation(path, method).responses[String(status)];
  if (response === undefined) return [`status ${status} is not listed for ${method.toUpperCase()} ${path}`];
  const reference = (response.schema as { $ref?: string } | undefined)?.$ref;
  return reference === undefined ? [] : openApiProblems(reference.replace('#/definitions/', ''), body);
}
