// results.json has two descriptions: the TypeScript types (reports/results.ts and the
// observation record in guest/protocol.ts) and the published JSON Schema. A field on one side
// only fails here; the schema refuses properties it does not name.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import test from 'ava';
import ts from 'typescript';
import { fromRoot } from '../../common/paths.js';
import { suiteInputs } from '../../runner/bundle.js';
import { kernelResult, observedCase, resultsOf } from '../helpers/results.js';

type Node = Record<string, unknown>;
const schema = JSON.parse(readFileSync(fromRoot('reports/schema/results.schema.json'), 'utf8')) as Node;

const program = ts.createProgram([fromRoot('reports/results.ts')], {
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
});
const checker = program.getTypeChecker();

function typeNamed(file: string, name: string): ts.Type {
  const sf = program.getSourceFile(fromRoot(file));
  const decl = sf?.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
  if (!decl) throw new Error(`${name} not found in ${file}`);
  return checker.getTypeAtLocation(decl.name);
}

/** The object branches of a schema node ($ref followed, oneOf/anyOf opened). */
function objectBranches(node: Node): Node[] {
  if (typeof node.$ref === 'string') return objectBranches((schema.$defs as Record<string, Node>)[node.$ref.replace('#/$defs/', '')]);
  const alts = (node.oneOf ?? node.anyOf) as Node[] | undefined;
  if (alts) return alts.flatMap(objectBranches);
  return node.properties ? [node] : [];
}

function itemsOf(node: Node): Node | null {
  if (typeof node.$ref === 'string') return itemsOf((schema.$defs as Record<string, Node>)[node.$ref.replace('#/$defs/', '')]);
  return (node.items as Node | undefined) ?? null;
}

/** The object members of a TS type, null and undefined left out. */
const objectMembers = (t: ts.Type): ts.Type[] =>
  (t.isUnion() ? t.types : [t]).filter((m) => m.flags & ts.TypeFlags.Object && !checker.isArrayType(m) && !checker.getIndexInfosOfType(m).length);

/** Every place where the type and the schema name different properties. */
function compare(t: ts.Type, node: Node, path: string, problems: string[]): void {
  const nonNull = checker.getNonNullableType(t);
  if (checker.isArrayType(nonNull)) {
    const items = itemsOf(node);
    if (items) compare(checker.getTypeArguments(nonNull as ts.TypeReference)[0], items, `${path}[]`, problems);
    return;
  }
  const members = objectMembers(nonNull);
  const branches = objectBranches(node);
  if (!members.length && !branches.length) return;
  const tsProps = new Map<string, ts.Symbol>();
  for (const m of members) for (const p of checker.getPropertiesOfType(m)) if (!tsProps.has(p.name)) tsProps.set(p.name, p);
  const schemaProps = new Map<string, Node>();
  for (const b of branches) for (const [k, v] of Object.entries(b.properties as Record<string, Node>)) if (!schemaProps.has(k)) schemaProps.set(k, v);
  for (const k of tsProps.keys()) if (!schemaProps.has(k)) problems.push(`${path}.${k}: in the type, not in the schema`);
  for (const k of schemaProps.keys()) if (!tsProps.has(k)) problems.push(`${path}.${k}: in the schema, not in the type`);
  for (const b of branches) if (b.additionalProperties !== false) problems.push(`${path}: the schema allows unknown properties`);
  for (const [k, sym] of tsProps) {
    const sub = schemaProps.get(k);
    if (sub) compare(checker.getTypeOfSymbol(sym), sub, `${path}.${k}`, problems);
  }
}

test('every field of results.json is in both the types and the schema, down to the observation record', (t) => {
  const problems: string[] = [];
  compare(typeNamed('reports/results.ts', 'Results'), schema, 'results', problems);
  t.deepEqual(problems, []);
  // The walk did reach the leaves: a made-up difference is found.
  const observation = (schema.$defs as Record<string, Node>).observation;
  const broken = structuredClone(observation);
  delete (broken.properties as Node).tail;
  const found: string[] = [];
  compare(typeNamed('guest/protocol.ts', 'Observation'), broken, 'observation', found);
  t.deepEqual(found, ['observation.tail: in the type, not in the schema']);
});

test('the schema refuses a property it does not name, at every level', (t) => {
  const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
  const good = resultsOf([kernelResult({ cases: [observedCase('x.anon-private', 'ok kept')] })]);
  t.true(validate(good), JSON.stringify(validate.errors));
  const extra = (f: (r: ReturnType<typeof structuredClone<typeof good>>) => void) => {
    const r = structuredClone(good);
    f(r);
    return validate(r);
  };
  t.false(extra((r) => Object.assign(r, { surprise: 1 })));
  t.false(extra((r) => Object.assign(r.kernels[0], { surprise: 1 })));
  t.false(extra((r) => Object.assign(r.kernels[0].cases[0], { surprise: 1 })));
  t.false(extra((r) => Object.assign(r.kernels[0].cases[0].observation!, { surprise: 1 })));
});

test('the suite version hashes what makes observations, not the table that judges them', (t) => {
  const inputs = suiteInputs();
  t.true(inputs.some((f) => f.startsWith('dist/guest/')) && inputs.some((f) => f.startsWith('dist/suites/')) && inputs.includes('guest/addon/mm.c'));
  t.false(
    inputs.some((f) => f.endsWith('.json')),
    inputs.filter((f) => f.endsWith('.json')).join(' '),
  );
});
