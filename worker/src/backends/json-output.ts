/**
 * Structured output for both backends: which JSON-schema subset we accept, and a validator that reports
 * every problem with its JSON path. Pure. Both backends use the same validator so "valid" means the same on
 * llama (grammar-constrained) and openai (server JSON mode): a grammar guarantees shape, not completeness —
 * output cut off by maxTokens must still come back as `invalid_output`.
 */
import type { JsonOutcome, JsonSchema } from "./types.js";

const TYPES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);

/** Keywords we enforce (or that carry no constraint). Anything else is refused rather than ignored. */
const KNOWN = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "prefixItems",
  "minItems",
  "maxItems",
  "minLength",
  "maxLength",
  "minProperties",
  "maxProperties",
  "minimum",
  "maximum",
  "enum",
  "const",
  "oneOf",
  "anyOf",
  "format",
  "$defs",
  "$ref",
  "$schema",
  "$id",
  "title",
  "description",
  "default",
  "examples",
]);

const FORMATS: Record<string, RegExp> = {
  date: /^\d{4}-\d{2}-\d{2}$/,
  time: /^\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/,
  "date-time": /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/,
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): boolean {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Problems that make a schema unusable (malformed, or a keyword we would silently not enforce), each with
 * its path. Empty when the schema is fine.
 */
export function checkJsonSchema(schema: unknown, path = "#"): string[] {
  if (!isRecord(schema)) return [`${path}: schema must be an object`];
  const problems: string[] = [];
  for (const key of Object.keys(schema)) {
    if (!KNOWN.has(key)) problems.push(`${path}: unsupported keyword "${key}"`);
  }
  const type = schema.type;
  const types = Array.isArray(type) ? type : type === undefined ? [] : [type];
  for (const t of types) {
    if (typeof t !== "string" || !TYPES.has(t))
      problems.push(`${path}/type: unknown type ${JSON.stringify(t)}`);
  }
  for (const key of ["minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"]) {
    if (key in schema && !isCount(schema[key])) problems.push(`${path}/${key}: must be an integer ≥ 0`);
  }
  for (const key of ["minimum", "maximum"]) {
    if (key in schema && typeof schema[key] !== "number") problems.push(`${path}/${key}: must be a number`);
  }
  if ("required" in schema) {
    const required = schema.required;
    if (!Array.isArray(required) || required.some((r) => typeof r !== "string")) {
      problems.push(`${path}/required: must be an array of strings`);
    }
  }
  if ("enum" in schema && !Array.isArray(schema.enum)) problems.push(`${path}/enum: must be an array`);
  if ("format" in schema && !(typeof schema.format === "string" && schema.format in FORMATS)) {
    problems.push(`${path}/format: supported formats are ${Object.keys(FORMATS).join(", ")}`);
  }
  if ("$ref" in schema) {
    const ref = schema.$ref;
    if (typeof ref !== "string" || !ref.startsWith("#/$defs/")) {
      problems.push(`${path}/$ref: only "#/$defs/<name>" references are supported`);
    }
  }
  if ("properties" in schema) {
    if (!isRecord(schema.properties)) problems.push(`${path}/properties: must be an object`);
    else {
      for (const [name, sub] of Object.entries(schema.properties)) {
        problems.push(...checkJsonSchema(sub, `${path}/properties/${name}`));
      }
    }
  }
  if ("$defs" in schema) {
    if (!isRecord(schema.$defs)) problems.push(`${path}/$defs: must be an object`);
    else {
      for (const [name, sub] of Object.entries(schema.$defs)) {
        problems.push(...checkJsonSchema(sub, `${path}/$defs/${name}`));
      }
    }
  }
  if ("items" in schema) problems.push(...checkJsonSchema(schema.items, `${path}/items`));
  if (isRecord(schema.additionalProperties)) {
    problems.push(...checkJsonSchema(schema.additionalProperties, `${path}/additionalProperties`));
  }
  for (const key of ["oneOf", "anyOf", "prefixItems"]) {
    if (!(key in schema)) continue;
    const list = schema[key];
    if (!Array.isArray(list)) problems.push(`${path}/${key}: must be an array`);
    else {
      for (const [i, sub] of list.entries()) problems.push(...checkJsonSchema(sub, `${path}/${key}/${i}`));
    }
  }
  return problems;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function matchesType(value: unknown, type: string): boolean {
  switch (type) {
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    default:
      return typeOf(value) === type;
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Every way `value` fails `schema`, each prefixed with the value's JSON pointer ("" = root). `root` resolves
 * `$ref`s. Assumes `checkJsonSchema(schema)` is empty.
 */
export function validateJson(
  value: unknown,
  schema: JsonSchema,
  root: JsonSchema = schema,
  at = "",
): string[] {
  const where = at === "" ? "/" : at;
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.slice("#/$defs/".length);
    const defs = root.$defs;
    const target = isRecord(defs) ? defs[name] : undefined;
    if (!isRecord(target)) return [`${where}: unresolvable $ref ${schema.$ref}`];
    return validateJson(value, target, root, at);
  }
  const problems: string[] = [];
  if (schema.type !== undefined) {
    const types = (Array.isArray(schema.type) ? schema.type : [schema.type]) as string[];
    if (!types.some((t) => matchesType(value, t))) {
      return [`${where}: expected ${types.join(" or ")}, got ${typeOf(value)}`];
    }
  }
  if ("const" in schema && !deepEqual(value, schema.const)) {
    problems.push(`${where}: expected the constant ${JSON.stringify(schema.const)}`);
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => deepEqual(value, e))) {
    problems.push(`${where}: expected one of ${JSON.stringify(schema.enum)}`);
  }
  for (const key of ["oneOf", "anyOf"] as const) {
    const list = schema[key];
    if (!Array.isArray(list)) continue;
    const matching = list.filter((sub) => isRecord(sub) && validateJson(value, sub, root, at).length === 0);
    if (key === "anyOf" ? matching.length === 0 : matching.length !== 1) {
      problems.push(`${where}: matches ${matching.length} of the ${list.length} ${key} alternatives`);
    }
  }
  if (typeof value === "string") problems.push(...validateString(value, schema, where));
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) {
      problems.push(`${where}: ${value} is below the minimum ${schema.minimum}`);
    }
    if (typeof schema.maximum === "number" && value > schema.maximum) {
      problems.push(`${where}: ${value} is above the maximum ${schema.maximum}`);
    }
  }
  if (Array.isArray(value)) problems.push(...validateArray(value, schema, root, at));
  if (isRecord(value)) problems.push(...validateObject(value, schema, root, at));
  return problems;
}

function validateString(value: string, schema: JsonSchema, where: string): string[] {
  const problems: string[] = [];
  const length = Array.from(value).length;
  if (typeof schema.minLength === "number" && length < schema.minLength) {
    problems.push(`${where}: string shorter than minLength ${schema.minLength}`);
  }
  if (typeof schema.maxLength === "number" && length > schema.maxLength) {
    problems.push(`${where}: string longer than maxLength ${schema.maxLength}`);
  }
  const format = typeof schema.format === "string" ? FORMATS[schema.format] : undefined;
  if (format && !format.test(value)) problems.push(`${where}: not a valid ${String(schema.format)}`);
  return problems;
}

function validateArray(
  value: readonly unknown[],
  schema: JsonSchema,
  root: JsonSchema,
  at: string,
): string[] {
  const where = at === "" ? "/" : at;
  const problems: string[] = [];
  if (typeof schema.minItems === "number" && value.length < schema.minItems) {
    problems.push(`${where}: fewer than minItems ${schema.minItems} items`);
  }
  if (typeof schema.maxItems === "number" && value.length > schema.maxItems) {
    problems.push(`${where}: more than maxItems ${schema.maxItems} items`);
  }
  const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : [];
  value.forEach((item, i) => {
    const sub = i < prefix.length ? prefix[i] : schema.items;
    if (isRecord(sub)) problems.push(...validateJson(item, sub, root, `${at}/${i}`));
  });
  return problems;
}

function validateObject(
  value: Record<string, unknown>,
  schema: JsonSchema,
  root: JsonSchema,
  at: string,
): string[] {
  const where = at === "" ? "/" : at;
  const problems: string[] = [];
  const properties = isRecord(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  for (const name of required) {
    if (!(name in value)) problems.push(`${where}: missing required property "${name}"`);
  }
  const count = Object.keys(value).length;
  if (typeof schema.minProperties === "number" && count < schema.minProperties) {
    problems.push(`${where}: fewer than minProperties ${schema.minProperties}`);
  }
  if (typeof schema.maxProperties === "number" && count > schema.maxProperties) {
    problems.push(`${where}: more than maxProperties ${schema.maxProperties}`);
  }
  for (const [name, item] of Object.entries(value)) {
    const sub = properties[name];
    if (isRecord(sub)) problems.push(...validateJson(item, sub, root, `${at}/${name}`));
    else if (schema.additionalProperties === false) problems.push(`${where}: unexpected property "${name}"`);
    else if (isRecord(schema.additionalProperties)) {
      problems.push(...validateJson(item, schema.additionalProperties, root, `${at}/${name}`));
    }
  }
  return problems;
}

/** Parses and validates generated text. Invalid output is reported, never silently accepted. */
export function evaluateJsonOutput(text: string, schema: JsonSchema, truncated: boolean): JsonOutcome {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const why = truncated ? "output was cut off at the token limit" : "output is not valid JSON";
    return { valid: false, code: "invalid_output", problems: [`${why}: ${(err as Error).message}`] };
  }
  const problems = validateJson(value, schema);
  if (problems.length > 0) return { valid: false, code: "invalid_output", problems };
  return { valid: true, value };
}
