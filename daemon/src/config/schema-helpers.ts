import { Type, type TInteger, type TNumber, type TObject, type TProperties, type TString, type TUnsafe, type StringOptions } from '@sinclair/typebox';

/** A config section: an object with defaults for every key, unknown keys refused. */
export function section<T extends TProperties>(description: string, properties: T): TObject<T> {
  return Type.Object(properties, { description, additionalProperties: false, default: {} });
}

/**
 * A secret string. In a config file it may be given as `<key>_file: /path` instead (systemd credentials,
 * Docker/K8s secrets); the loader reads the file. Secrets are never printed by `config check`.
 */
export function secret(description: string, options: StringOptions = {}): TString {
  return Type.String({ description, secret: true, maxLength: 4096, ...options });
}

/** A filesystem path; relative paths are resolved against the config file's folder. */
export function pathString(description: string, defaultValue: string): TString {
  return Type.String({ description, path: true, default: defaultValue, maxLength: 4096 });
}

/** One of a fixed set of strings (a plain JSON Schema enum, so errors name the allowed values). */
export function oneOf<const T extends readonly string[]>(values: T, options: { description: string; default?: T[number] }): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** A number with its default and bounds. */
export function number(description: string, defaultValue: number, minimum: number, maximum: number): TNumber {
  return Type.Number({ description, default: defaultValue, minimum, maximum });
}

/** A whole number with its default and bounds. */
export function integer(description: string, defaultValue: number, minimum: number, maximum: number): TInteger {
  return Type.Integer({ description, default: defaultValue, minimum, maximum });
}
