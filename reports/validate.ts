// results.json is checked against its JSON Schema when read back (report, diff, merge, show,
// --resume, --baseline): a torn or hand-edited file is bad input with a one-line reason,
// never a crash deep inside a renderer.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { fromRoot } from '../common/paths.js';

let validate: ValidateFunction | null = null;

/** The first thing wrong with `r` as a results set ("/kernels/0: must have required property 'cases'"), or null. */
export function resultsProblem(r: unknown): string | null {
  validate ??= new Ajv2020({ allErrors: false, strict: false }).compile(JSON.parse(readFileSync(fromRoot('reports/schema/results.schema.json'), 'utf8')));
  if (validate(r)) return null;
  const e = validate.errors?.[0];
  return e ? `${e.instancePath || '(top)'} ${e.message ?? 'is invalid'}` : 'is invalid';
}
