/**
 * Schema validation at the edge. Bodies are JSON and must match their schema exactly as sent: no
 * type coercion, no silently dropped properties. Query strings and path parameters are text, so
 * there numbers are coerced from their digits; unknown parameters are still refused.
 */

import { Ajv, type ValidateFunction } from "ajv";
import type { FastifySchemaCompiler } from "fastify";

const strict = new Ajv({
  coerceTypes: false,
  removeAdditional: false,
  useDefaults: false,
  allErrors: false,
  strict: false,
});
const textual = new Ajv({
  coerceTypes: true,
  removeAdditional: false,
  useDefaults: false,
  allErrors: false,
  strict: false,
});

/** Compiles each route's schema with the Ajv instance suited to its part of the request. */
export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) => {
  const ajv = httpPart === "body" ? strict : textual;
  const validate: ValidateFunction = ajv.compile(schema);
  return (data: unknown) => {
    if (validate(data)) return { value: data };
    const error = new Error(ajv.errorsText(validate.errors, { dataVar: httpPart ?? "input" }));
    // Marked like fastify's own validation errors, so the error handler answers validation_failed.
    return { error: Object.assign(error, { validation: validate.errors ?? [] }) };
  };
};
