/**
 * Which JSON Schemas the runner's grammar (node-llama-cpp's JSON-schema grammar) can enforce,
 * and their normal form for it. Checked in the contract, so a schema the grammar cannot express
 * is refused before it reaches a model, with the keyword and where it sits.
 *
 * The grammar generates `type` (any of string, number, integer, boolean, null, object, array),
 * `const`, `enum`, `oneOf`/`anyOf`, `$ref` into local definitions, object `properties`,
 * `additionalProperties`, `min/maxProperties`, array `items`, `prefixItems`, `min/maxItems`,
 * string `min/maxLength` and the formats `date`, `time`, `date-time`. It writes every listed
 * property, which satisfies `required` whatever it lists. Anything that restricts values further
 * (`pattern`, `minimum`, `multipleOf`, other formats, `allOf`, `not`, …) would let invalid values
 * through, so it is refused rather than ignored.
 */

export type JsonSchemaObject = { [key: string]: unknown };

export interface GrammarSchemaProblem {
  /** Where in the schema, e.g. `["properties", "email", "pattern"]`. */
  path: (string | number)[];
  keyword: string;
  message: string;
}

export type GrammarSchemaResult =
  | { ok: true; schema: JsonSchemaObject }
  | { ok: false; problem: GrammarSchemaProblem };

const ANNOTATIONS = new Set([
  "$schema",
  "$id",
  "$comment",
  "title",
  "default",
  "examples",
  "readOnly",
  "writeOnly",
  "deprecated",
]);
const TYPES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);
const SCALARS = new Set(["string", "number", "integer", "boolean", "null"]);
const FORMATS = new Set(["date", "time", "date-time"]);
const BY_TYPE: Record<string, Set<string>> = {
  string: new Set(["minLength", "maxLength", "format"]),
  object: new Set([
    "properties",
    "required",
    "additionalProperties",
    "minProperties",
    "maxProperties",
  ]),
  array: new Set(["items", "prefixItems", "minItems", "maxItems"]),
  // zod's `z.int()` states the safe-integer range; the grammar writes at most 16 digits anyway.
  integer: new Set(["minimum", "maximum"]),
};
const MAX_DEPTH = 64;

class Refused extends Error {
  constructor(readonly problem: GrammarSchemaProblem) {
    super(problem.message);
  }
}

/** Checks `schema` against what the grammar enforces and returns it in the grammar's dialect. */
export function toGrammarSchema(schema: unknown): GrammarSchemaResult {
  try {
    if (!isObject(schema)) refuse([], "type", "the schema must be a JSON object");
    const root = schema as JsonSchemaObject;
    // draft-07 `definitions` (what the OpenAI SDK's zod helper writes) become `$defs`.
    const defs = { ...(asObject(root.definitions) ?? {}), ...(asObject(root.$defs) ?? {}) };
    const names = new Set(Object.keys(defs));
    const out = convert(root, [], { names, depth: 0 });
    delete out.definitions;
    if (names.size) {
      out.$defs = Object.fromEntries(
        Object.entries(defs).map(([name, def]) => [
          name,
          convert(def, ["$defs", name], { names, depth: 1 }),
        ]),
      );
    }
    return { ok: true, schema: out };
  } catch (error) {
    if (error instanceof Refused) return { ok: false, problem: error.problem };
    throw error;
  }
}

interface Scope {
  names: Set<string>;
  depth: number;
}

function convert(node: unknown, path: (string | number)[], scope: Scope): JsonSchemaObject {
  if (scope.depth > MAX_DEPTH) refuse(path, "$defs", `the schema nests deeper than ${MAX_DEPTH}`);
  if (!isObject(node)) refuse(path, "type", "every subschema must be a JSON object");
  const schema = node as JsonSchemaObject;
  const inner = { ...scope, depth: scope.depth + 1 };
  const out: JsonSchemaObject = {};
  if (typeof schema.description === "string") out.description = schema.description;

  if (schema.$ref !== undefined) {
    const ref = schema.$ref;
    const name =
      typeof ref === "string" ? /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref)?.[1] : undefined;
    if (name === undefined || !scope.names.has(decodeURIComponent(name))) {
      refuse([...path, "$ref"], "$ref", "only references to the schema's own $defs are supported");
    }
    only(schema, path, new Set(["$ref", "description", "$defs", "definitions"]));
    return { ...out, $ref: `#/$defs/${decodeURIComponent(name as string)}` };
  }
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives !== undefined) {
    const keyword = schema.oneOf !== undefined ? "oneOf" : "anyOf";
    if (schema.oneOf !== undefined && schema.anyOf !== undefined) {
      refuse([...path, "anyOf"], "anyOf", "use either oneOf or anyOf, not both");
    }
    if (!Array.isArray(alternatives) || alternatives.length === 0) {
      refuse([...path, keyword], keyword, `${keyword} must be a non-empty array`);
    }
    only(schema, path, new Set([keyword, "description", "$defs", "definitions"]));
    return {
      ...out,
      oneOf: (alternatives as unknown[]).map((alt, i) =>
        convert(alt, [...path, keyword, i], inner),
      ),
    };
  }
  if (schema.const !== undefined) {
    if (!isLiteral(schema.const)) {
      refuse([...path, "const"], "const", "const must be a string, number, boolean or null");
    }
    only(schema, path, new Set(["const", "description", "type"]));
    return { ...out, const: schema.const };
  }
  if (schema.enum !== undefined) {
    if (!Array.isArray(schema.enum) || schema.enum.length === 0 || !schema.enum.every(isLiteral)) {
      refuse([...path, "enum"], "enum", "enum must list strings, numbers, booleans or null values");
    }
    only(schema, path, new Set(["enum", "description", "type"]));
    return { ...out, enum: schema.enum };
  }

  const types = schema.type === undefined ? [] : [schema.type].flat();
  if (types.length === 0) {
    refuse(
      [...path, "type"],
      "type",
      "a schema without type, const, enum, oneOf/anyOf or $ref (any value) cannot be enforced",
    );
  }
  for (const type of types) {
    if (typeof type !== "string" || !TYPES.has(type)) {
      refuse([...path, "type"], "type", `unknown type ${JSON.stringify(type)}`);
    }
  }
  if (types.length > 1) {
    // The grammar takes a list of scalar types as is; objects and arrays become alternatives.
    if (types.every((t) => SCALARS.has(t as string))) {
      only(schema, path, new Set(["type", "description"]));
      return { ...out, type: types };
    }
    return { ...out, oneOf: types.map((type) => convert(forType(schema, type), path, inner)) };
  }
  const type = types[0] as string;
  const allowed = new Set(["type", "description", ...(BY_TYPE[type] ?? [])]);
  if (type === "string" && schema.format !== undefined) {
    if (typeof schema.format !== "string" || !FORMATS.has(schema.format)) {
      refuse(
        [...path, "format"],
        "format",
        `format ${JSON.stringify(schema.format)} is not supported (date, time and date-time are)`,
      );
    }
    // zod writes the format's own regex beside it; the grammar enforces the format itself.
    allowed.add("pattern");
  }
  only(schema, path, allowed);
  out.type = type;

  if (type === "integer") {
    for (const keyword of ["minimum", "maximum"] as const) {
      const bound = schema[keyword];
      if (bound !== undefined && Math.abs(bound as number) !== Number.MAX_SAFE_INTEGER) {
        refuse([...path, keyword], keyword, unsupported(keyword));
      }
    }
  }
  if (type === "string") {
    if (schema.format !== undefined) {
      if (schema.minLength !== undefined || schema.maxLength !== undefined) {
        refuse([...path, "format"], "format", "format cannot be combined with minLength/maxLength");
      }
      out.format = schema.format;
    }
    copyCounts(schema, out, path, ["minLength", "maxLength"]);
  }
  if (type === "object") {
    const properties = schema.properties;
    if (properties !== undefined) {
      if (!isObject(properties)) refuse([...path, "properties"], "properties", "must be an object");
      out.properties = Object.fromEntries(
        Object.entries(properties as JsonSchemaObject).map(([key, value]) => [
          key,
          convert(value, [...path, "properties", key], inner),
        ]),
      );
    }
    const additional = schema.additionalProperties;
    if (typeof additional === "boolean") out.additionalProperties = additional;
    else if (additional !== undefined) {
      out.additionalProperties = convert(additional, [...path, "additionalProperties"], inner);
    }
    // JSON Schema's default is true; the grammar's is false. A free object keeps its freedom.
    else if (properties === undefined) out.additionalProperties = true;
    copyCounts(schema, out, path, ["minProperties", "maxProperties"]);
  }
  if (type === "array") {
    if (schema.items !== undefined) {
      if (Array.isArray(schema.items)) {
        refuse(
          [...path, "items"],
          "items",
          "items must be one schema (use prefixItems for tuples)",
        );
      }
      out.items = convert(schema.items, [...path, "items"], inner);
    }
    if (schema.prefixItems !== undefined) {
      if (!Array.isArray(schema.prefixItems)) {
        refuse([...path, "prefixItems"], "prefixItems", "prefixItems must be an array");
      }
      out.prefixItems = (schema.prefixItems as unknown[]).map((item, i) =>
        convert(item, [...path, "prefixItems", i], inner),
      );
    }
    copyCounts(schema, out, path, ["minItems", "maxItems"]);
  }
  return out;
}

/** `schema` with one of its types, without the keywords that belong to its other types. */
function forType(schema: JsonSchemaObject, type: unknown): JsonSchemaObject {
  const own = BY_TYPE[type as string] ?? new Set<string>();
  const others = new Set(Object.values(BY_TYPE).flatMap((keywords) => [...keywords]));
  return Object.fromEntries(
    Object.entries({ ...schema, type }).filter(([key]) => own.has(key) || !others.has(key)),
  );
}

/** Refuses the first keyword of `schema` outside `allowed` (annotations pass). */
function only(schema: JsonSchemaObject, path: (string | number)[], allowed: Set<string>) {
  for (const keyword of Object.keys(schema)) {
    if (allowed.has(keyword) || ANNOTATIONS.has(keyword)) continue;
    if (keyword === "$defs" || keyword === "definitions") {
      if (path.length === 0) continue;
      refuse([...path, keyword], keyword, "definitions are supported at the schema's root only");
    }
    refuse([...path, keyword], keyword, unsupported(keyword));
  }
}

function copyCounts(
  schema: JsonSchemaObject,
  out: JsonSchemaObject,
  path: (string | number)[],
  keywords: string[],
) {
  for (const keyword of keywords) {
    const value = schema[keyword];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      refuse([...path, keyword], keyword, `${keyword} must be a non-negative integer`);
    }
    out[keyword] = value;
  }
}

function unsupported(keyword: string): string {
  return `the JSON Schema keyword '${keyword}' cannot be enforced by the grammar`;
}

function refuse(path: (string | number)[], keyword: string, message: string): never {
  throw new Refused({ path, keyword, message });
}

function isObject(value: unknown): value is JsonSchemaObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asObject(value: unknown): JsonSchemaObject | undefined {
  return isObject(value) ? value : undefined;
}

function isLiteral(value: unknown): boolean {
  return value === null || ["string", "number", "boolean"].includes(typeof value);
}
