/**
 * fast-check arbitraries for ANY protobuf-es message, derived from its descriptor: every scalar type, enums,
 * nested messages (depth-limited), repeated fields, maps and oneofs. Codec property tests use it to cover
 * every message of the contract without hand-writing generators.
 */
import { create, type DescField, type DescMessage, type MessageShape, ScalarType } from "@bufbuild/protobuf";
import fc from "fast-check";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function scalarArb(type: ScalarType): fc.Arbitrary<unknown> {
  switch (type) {
    case ScalarType.DOUBLE:
      return fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x));
    case ScalarType.FLOAT:
      return fc
        .float({ noNaN: true, noDefaultInfinity: true })
        .map((x) => (Object.is(x, -0) ? 0 : Math.fround(x)));
    case ScalarType.INT64:
    case ScalarType.SFIXED64:
    case ScalarType.SINT64:
      return fc.bigInt({ min: INT64_MIN, max: INT64_MAX });
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case ScalarType.INT32:
    case ScalarType.SFIXED32:
    case ScalarType.SINT32:
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.STRING:
      return fc.string({ maxLength: 24, unit: "grapheme" });
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 16 });
  }
}

function fieldValueArb(field: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (field.fieldKind) {
    case "scalar":
      return scalarArb(field.scalar);
    case "enum":
      return fc.constantFrom(...field.enum.values.map((v) => v.number));
    case "message":
      return messageInitArb(field.message, depth + 1);
    case "list": {
      const item =
        field.listKind === "scalar"
          ? scalarArb(field.scalar)
          : field.listKind === "enum"
            ? fc.constantFrom(...field.enum.values.map((v) => v.number))
            : messageInitArb(field.message, depth + 1);
      return fc.array(item, { maxLength: depth > 2 ? 0 : 3 });
    }
    case "map": {
      // "__proto__" cannot be a plain-object key (protobuf-es stores maps as objects), so it never round-trips.
      const key = scalarArb(field.mapKey)
        .map((k) => String(k))
        .filter((k) => k !== "__proto__");
      const value =
        field.mapKind === "scalar"
          ? scalarArb(field.scalar)
          : field.mapKind === "enum"
            ? fc.constantFrom(...field.enum.values.map((v) => v.number))
            : messageInitArb(field.message, depth + 1);
      return fc.dictionary(key, value, { maxKeys: depth > 2 ? 0 : 3 });
    }
  }
}

/** An init object for `create(schema, init)`; nested messages stop at depth 4. */
function messageInitArb(schema: DescMessage, depth: number): fc.Arbitrary<Record<string, unknown>> {
  if (depth > 4) return fc.constant({});
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of schema.fields) {
    if (field.oneof) continue;
    parts[field.localName] = fc.option(fieldValueArb(field, depth), { nil: undefined });
  }
  for (const oneof of schema.oneofs) {
    parts[oneof.localName] = fc.oneof(
      fc.constant(undefined),
      ...oneof.fields.map((f) =>
        fieldValueArb(f, depth).map((value) => ({
          case: f.localName,
          value: f.fieldKind === "message" ? create(f.message, value as Record<string, unknown>) : value,
        })),
      ),
    );
  }
  return fc.record(parts).map((rec) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rec)) if (v !== undefined) out[k] = v;
    return out;
  });
}

export function arbitraryMessage<Desc extends DescMessage>(schema: Desc): fc.Arbitrary<MessageShape<Desc>> {
  return messageInitArb(schema, 0).map((init) => create(schema, init as never) as MessageShape<Desc>);
}
