/**
 * Lists every setting bound to an environment variable, with its dotted key and default:
 * the material for an agent's `--help` and for generated documentation.
 */
import type { z } from 'zod';
import { bindings } from './walk.js';

/** Every bound setting of the schema, in declaration order. */
export function describeSettings(schema: z.ZodType): { env: string; key: string; fallback: unknown }[] {
  return bindings(schema).map(({ env, key, fallback }) => ({ env, key, fallback }));
}
