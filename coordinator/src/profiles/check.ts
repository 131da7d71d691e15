/**
 * Small helpers for validating untrusted JSON: every helper records a problem with its path and keeps
 * going, so a parser reports everything wrong with a file at once.
 */

export type Json = Record<string, unknown>;

export function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return `a ${typeof value}`;
}

/** Collects problems as "path: message". */
export class ProblemList {
  readonly items: string[] = [];
  add(path: string, message: string): void {
    this.items.push(path.length > 0 ? `${path}: ${message}` : message);
  }
  get empty(): boolean {
    return this.items.length === 0;
  }
}

/** Reports keys outside `allowed` (typos are the commonest mistake in hand-written files). */
export function checkKeys(obj: Json, allowed: readonly string[], path: string, problems: ProblemList): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) problems.add(path, `unknown field "${key}" (allowed: ${allowed.join(", ")})`);
  }
}

export function checkObject(value: unknown, path: string, problems: ProblemList): Json | undefined {
  if (isRecord(value)) return value;
  problems.add(path, `must be an object, got ${describe(value)}`);
  return undefined;
}

export interface StringRules {
  maxLength: number;
  minLength?: number;
}

export function checkString(
  value: unknown,
  path: string,
  problems: ProblemList,
  rules: StringRules,
): string | undefined {
  if (typeof value !== "string") {
    problems.add(path, `must be a string, got ${describe(value)}`);
    return undefined;
  }
  const min = rules.minLength ?? 1;
  if (value.length < min) {
    problems.add(path, min === 1 ? "must not be empty" : `must be at least ${min} characters`);
    return undefined;
  }
  if (value.length > rules.maxLength) {
    problems.add(path, `is ${value.length} characters long; the limit is ${rules.maxLength}`);
    return undefined;
  }
  return value;
}

export interface NumberRules {
  min?: number;
  max?: number;
  integer?: boolean;
}

export function checkNumber(
  value: unknown,
  path: string,
  problems: ProblemList,
  rules: NumberRules = {},
): number | undefined {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    problems.add(path, `must be a finite number, got ${describe(value)}`);
    return undefined;
  }
  if (rules.integer === true && !Number.isInteger(value)) {
    problems.add(path, `must be an integer, got ${value}`);
    return undefined;
  }
  const { min, max } = rules;
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
    const range =
      min !== undefined && max !== undefined
        ? `in [${min}, ${max}]`
        : min !== undefined
          ? `≥ ${min}`
          : `≤ ${max}`;
    problems.add(path, `must be ${range}, got ${value}`);
    return undefined;
  }
  return value;
}

export function checkEnum<T extends string>(
  value: unknown,
  allowed: readonly T[],
  path: string,
  problems: ProblemList,
): T | undefined {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  problems.add(path, `must be one of ${allowed.join(", ")}, got ${describe(value)}`);
  return undefined;
}

export function checkArray(
  value: unknown,
  path: string,
  problems: ProblemList,
  maxItems: number,
): readonly unknown[] | undefined {
  if (!Array.isArray(value)) {
    problems.add(path, `must be an array, got ${describe(value)}`);
    return undefined;
  }
  if (value.length > maxItems) {
    problems.add(path, `has ${value.length} items; the limit is ${maxItems}`);
    return undefined;
  }
  return value;
}
