/**
 * A pure layered configuration loader: defaults < config file < CONCLAVE_* environment < command-line
 * flags. Every component declares its fields once (type, default, doc); loading reports every problem at
 * once and records where each value came from. The caller reads the file and passes env in: nothing here
 * touches the process.
 */
import { parse as parseYaml } from "yaml";
import { ConclaveError, ErrorCode } from "./errors.js";

export type FieldKind = "string" | "int" | "number" | "boolean" | "list" | "duration";

interface FieldBase {
  /** One line for `--help` and deploy/CONFIG.md. */
  doc: string;
  /** Environment variable; defaults to CONCLAVE_<SCREAMING_SNAKE of the key>. `false` = none. */
  env?: string | false;
  /** Never print the value (tokens, keys). */
  secret?: boolean;
}

export interface StringField extends FieldBase {
  kind: "string";
  default?: string;
  /** Allowed values, when the field is an enumeration. */
  choices?: readonly string[];
  required?: boolean;
}
export interface IntField extends FieldBase {
  kind: "int";
  default?: number;
  min?: number;
  max?: number;
  required?: boolean;
}
export interface NumberField extends FieldBase {
  kind: "number";
  default?: number;
  min?: number;
  max?: number;
  required?: boolean;
}
export interface BooleanField extends FieldBase {
  kind: "boolean";
  default?: boolean;
}
export interface ListField extends FieldBase {
  kind: "list";
  default?: readonly string[];
}
/** Milliseconds; accepts numbers (ms) or strings like "500ms", "2s", "5m", "1h". */
export interface DurationField extends FieldBase {
  kind: "duration";
  default?: number;
  min?: number;
  max?: number;
}

export type FieldSpec = StringField | IntField | NumberField | BooleanField | ListField | DurationField;
export type ConfigSchema = Record<string, FieldSpec>;

type ValueOf<F extends FieldSpec> = F extends StringField
  ? string
  : F extends IntField | NumberField | DurationField
    ? number
    : F extends BooleanField
      ? boolean
      : readonly string[];

type HasValue<F extends FieldSpec> = F extends { default: unknown }
  ? true
  : F extends { required: true }
    ? true
    : false;

/** The resolved config: fields with a default or marked required are always present. */
export type ResolvedConfig<S extends ConfigSchema> = {
  [K in keyof S as HasValue<S[K]> extends true ? K : never]: ValueOf<S[K]>;
} & {
  [K in keyof S as HasValue<S[K]> extends true ? never : K]?: ValueOf<S[K]>;
};

export type ConfigSource = "default" | "file" | "env" | "flag";

export interface LoadConfigInput {
  /** Parsed flags by config key (undefined = not given). */
  flags?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  /** The config file's text (YAML or JSON) and its path for messages. */
  file?: { path: string; text: string };
}

export interface LoadedConfig<S extends ConfigSchema> {
  config: ResolvedConfig<S>;
  sources: Partial<Record<keyof S & string, ConfigSource>>;
}

export function envNameOf(key: string, spec: FieldSpec): string | undefined {
  if (spec.env === false) return undefined;
  if (typeof spec.env === "string") return spec.env;
  return `CONCLAVE_${key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses "250ms", "2s", "1.5m", "1h" or a bare number of milliseconds. */
export function parseDuration(value: string): number | undefined {
  const m = DURATION.exec(value.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (UNIT_MS[m[2] ?? "ms"] ?? 1));
}

type Coerced = { ok: true; value: unknown } | { ok: false; problem: string };

function coerce(spec: FieldSpec, raw: unknown, fromText: boolean): Coerced {
  const text = typeof raw === "string" ? raw.trim() : undefined;
  switch (spec.kind) {
    case "string": {
      if (typeof raw !== "string" && !(fromText && raw !== undefined))
        return { ok: false, problem: `expected text, got ${typeof raw}` };
      const value = String(raw);
      if (spec.choices && !spec.choices.includes(value))
        return { ok: false, problem: `"${value}" is not one of ${spec.choices.join(", ")}` };
      return { ok: true, value };
    }
    case "int":
    case "number": {
      const n = typeof raw === "number" ? raw : text !== undefined && text !== "" ? Number(text) : Number.NaN;
      if (!Number.isFinite(n)) return { ok: false, problem: `expected a number, got ${JSON.stringify(raw)}` };
      if (spec.kind === "int" && !Number.isInteger(n))
        return { ok: false, problem: `expected a whole number, got ${n}` };
      if (spec.min !== undefined && n < spec.min)
        return { ok: false, problem: `${n} is below the minimum ${spec.min}` };
      if (spec.max !== undefined && n > spec.max)
        return { ok: false, problem: `${n} is above the maximum ${spec.max}` };
      return { ok: true, value: n };
    }
    case "boolean": {
      if (typeof raw === "boolean") return { ok: true, value: raw };
      const t = text?.toLowerCase();
      if (t === "true" || t === "1" || t === "yes" || t === "on") return { ok: true, value: true };
      if (t === "false" || t === "0" || t === "no" || t === "off") return { ok: true, value: false };
      return { ok: false, problem: `expected true or false, got ${JSON.stringify(raw)}` };
    }
    case "list": {
      if (Array.isArray(raw)) {
        if (!raw.every((x) => typeof x === "string" || typeof x === "number"))
          return { ok: false, problem: "expected a list of text values" };
        return { ok: true, value: raw.map(String) };
      }
      if (typeof raw === "string")
        return {
          ok: true,
          value: raw
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s.length > 0),
        };
      return { ok: false, problem: `expected a list, got ${typeof raw}` };
    }
    case "duration": {
      const ms = typeof raw === "number" ? raw : text !== undefined ? parseDuration(text) : undefined;
      if (ms === undefined || !Number.isFinite(ms) || ms < 0)
        return { ok: false, problem: `expected a duration like 500ms, 2s or 5m, got ${JSON.stringify(raw)}` };
      if (spec.min !== undefined && ms < spec.min)
        return { ok: false, problem: `${ms} ms is below ${spec.min} ms` };
      if (spec.max !== undefined && ms > spec.max)
        return { ok: false, problem: `${ms} ms is above ${spec.max} ms` };
      return { ok: true, value: ms };
    }
  }
}

function parseFile(file: { path: string; text: string }, problems: string[]): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(file.text);
  } catch (err) {
    problems.push(`${file.path}: not valid YAML/JSON (${err instanceof Error ? err.message : String(err)})`);
    return {};
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    problems.push(`${file.path}: expected a mapping of settings at the top level`);
    return {};
  }
  return doc as Record<string, unknown>;
}

/**
 * Resolves a config from its layers. @throws ConclaveError(INVALID_ARGUMENT) listing every problem.
 */
export function loadConfig<S extends ConfigSchema>(schema: S, input: LoadConfigInput): LoadedConfig<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  const fileValues = input.file ? parseFile(input.file, problems) : {};

  if (input.file) {
    for (const key of Object.keys(fileValues)) {
      if (!(key in schema)) problems.push(`${input.file.path}: unknown setting "${key}"`);
    }
  }
  for (const key of Object.keys(input.flags ?? {})) {
    if (!(key in schema)) problems.push(`unknown option "${key}"`);
  }

  for (const [key, spec] of Object.entries(schema)) {
    if (spec.default !== undefined) {
      out[key] = spec.default;
      sources[key] = "default";
    }
    const layers: Array<[ConfigSource, unknown, string, boolean]> = [];
    if (input.file && fileValues[key] !== undefined)
      layers.push(["file", fileValues[key], `${input.file.path}: ${key}`, false]);
    const envName = envNameOf(key, spec);
    const envValue = envName ? input.env?.[envName] : undefined;
    if (envName && envValue !== undefined && envValue !== "") layers.push(["env", envValue, envName, true]);
    const flagValue = input.flags?.[key];
    if (flagValue !== undefined) layers.push(["flag", flagValue, `--${toKebab(key)}`, true]);
    for (const [source, raw, where, fromText] of layers) {
      const result = coerce(spec, raw, fromText);
      if (result.ok) {
        out[key] = result.value;
        sources[key] = source;
      } else {
        problems.push(`${where}: ${result.problem}`);
      }
    }
    if ("required" in spec && spec.required && out[key] === undefined) {
      problems.push(`--${toKebab(key)} is required${envName ? ` (or set ${envName})` : ""}`);
    }
  }

  if (problems.length > 0) {
    throw new ConclaveError(
      ErrorCode.INVALID_ARGUMENT,
      `invalid configuration:\n  - ${problems.join("\n  - ")}`,
      { details: problems },
    );
  }
  return { config: out as ResolvedConfig<S>, sources: sources as LoadedConfig<S>["sources"] };
}

export function toKebab(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}

/** Markdown table of a schema, for deploy/CONFIG.md. */
export function describeSchema(title: string, schema: ConfigSchema): string {
  const rows = Object.entries(schema).map(([key, spec]) => {
    const env = envNameOf(key, spec) ?? "—";
    const def =
      spec.default === undefined
        ? "—"
        : spec.secret
          ? "(secret)"
          : `\`${Array.isArray(spec.default) ? spec.default.join(",") : String(spec.default)}\``;
    const choices = "choices" in spec && spec.choices ? ` One of: ${spec.choices.join(", ")}.` : "";
    return `| \`--${toKebab(key)}\` | \`${env}\` | ${def} | ${spec.doc}${choices} |`;
  });
  return [
    `### ${title}`,
    "",
    "| flag / file key | env | default | meaning |",
    "|---|---|---|---|",
    ...rows,
  ].join("\n");
}
