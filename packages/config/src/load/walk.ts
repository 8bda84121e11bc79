/**
 * Walks a composed settings schema: finds the environment variable bound to a node (the
 * `{ env }` metadata the setting builders attach), its default, and the object shapes
 * beneath, looking through optional/default/nullable/readonly wrappers.
 */
import { z } from 'zod';

/** Wrappers whose inner schema describes the same value. */
function inner(schema: z.ZodType): z.ZodType | null {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault) return schema.unwrap() as z.ZodType;
  if (schema instanceof z.ZodPrefault || schema instanceof z.ZodReadonly || schema instanceof z.ZodNonOptional) return schema.unwrap() as z.ZodType;
  if (schema instanceof z.ZodPipe) return schema.in as z.ZodType;
  return null;
}

/** The environment variable bound to this node, on it or on a wrapped schema. */
export function envName(schema: z.ZodType): string | null {
  for (let node: z.ZodType | null = schema; node; node = inner(node)) {
    const env = z.globalRegistry.get(node)?.['env'];
    if (typeof env === 'string') return env;
  }
  return null;
}

/** The default value of this node, if it has one. */
export function fallbackOf(schema: z.ZodType): unknown {
  for (let node: z.ZodType | null = schema; node; node = inner(node)) {
    if (node instanceof z.ZodDefault) return node.def.defaultValue;
  }
  return undefined;
}

/** The object schema this node wraps, or null for a leaf. */
export function objectOf(schema: z.ZodType): z.ZodObject | null {
  for (let node: z.ZodType | null = schema; node; node = inner(node)) {
    if (node instanceof z.ZodObject) return node;
  }
  return null;
}

/** Does the object accept keys it does not declare (`z.looseObject`, `.catchall()`)? */
export function acceptsUnknownKeys(object: z.ZodObject): boolean {
  const catchall = object.def.catchall;
  return catchall !== undefined && !(catchall instanceof z.ZodNever);
}

export interface Binding {
  /** Dotted key, e.g. `submission.port`. */
  readonly key: string;
  readonly env: string;
  readonly fallback: unknown;
}

/** Every setting bound to an environment variable, in schema order. */
export function bindings(schema: z.ZodType, path: readonly string[] = []): Binding[] {
  const env = envName(schema);
  if (env !== null) return [{ key: path.join('.'), env, fallback: fallbackOf(schema) }];
  const object = objectOf(schema);
  if (object === null) return [];
  return Object.entries(object.shape).flatMap(([name, child]) => bindings(child as z.ZodType, [...path, name]));
}
