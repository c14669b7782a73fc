// The breaking-change check on schema.graphql (run by scripts/test through schema-diff.sh).
//
//   node check.mjs OLD.graphql NEW.graphql   exit 0: no breaking change, 1: breaking, 2: usage
//   node check.mjs --self-test               checks this script's rules on small schemas
//
// @graphql-inspector/core compares the two SDLs. A BREAKING change is allowed only when it
// removes a field, input field or enum value that the OLD schema already marks @deprecated
// (deprecated for at least one release: OLD is origin/main's or the previous commit's schema).
// Inspector's own `suppressRemovalOfDeprecatedField` rule is not used: it also lets every
// removal of a whole type through.
import { readFileSync } from 'node:fs';
import { buildSchema, isEnumType, isInputObjectType, isInterfaceType, isObjectType } from 'graphql';
import { ChangeType, CriticalityLevel, diff } from '@graphql-inspector/core';

const deprecated = (schema, change) => {
  const [typeName, member] = (change.path ?? '').split('.');
  const type = schema.getType(typeName);
  let item;
  if (change.type === ChangeType.FieldRemoved && (isObjectType(type) || isInterfaceType(type))) {
    item = type.getFields()[member];
  } else if (change.type === ChangeType.InputFieldRemoved && isInputObjectType(type)) {
    item = type.getFields()[member];
  } else if (change.type === ChangeType.EnumValueRemoved && isEnumType(type)) {
    item = type.getValue(member);
  }
  return item?.deprecationReason != null;
};

/** `{ breaking, allowed, other }`: the changes from `oldSdl` to `newSdl`, sorted by verdict. */
export async function classify(oldSdl, newSdl) {
  const oldSchema = buildSchema(oldSdl);
  const changes = await diff(oldSchema, buildSchema(newSdl));
  const out = { breaking: [], allowed: [], other: [] };
  for (const c of changes) {
    if (c.criticality.level !== CriticalityLevel.Breaking) out.other.push(c);
    else if (deprecated(oldSchema, c)) out.allowed.push(c);
    else out.breaking.push(c);
  }
  return out;
}

async function selfTest() {
  const base = `type Query { a: Int  old: Int @deprecated(reason: "use a") }
    enum E { X Y @deprecated }  input I { p: Int  q: Int @deprecated }
    type Mutation { m(i: I, e: E): Int }`;
  const cases = [
    ['adding a field passes', base.replace('a: Int', 'a: Int  b: String'), 0],
    ['removing a non-deprecated field fails', base.replace('a: Int ', ''), 1],
    ['removing a deprecated field passes', base.replace('old: Int @deprecated(reason: "use a")', ''), 0],
    ['removing a deprecated enum value passes', base.replace('Y @deprecated', ''), 0],
    ['removing a non-deprecated enum value fails', base.replace('X ', ''), 1],
    ['removing a deprecated input field passes', base.replace('q: Int @deprecated', ''), 0],
    ['renaming the query root fails', `schema { query: QueryRoot mutation: Mutation }
      ${base.replace('type Query', 'type QueryRoot')}`, 1],
    ['changing a field type fails', base.replace('a: Int', 'a: String'), 1],
  ];
  let failed = 0;
  for (const [name, next, want] of cases) {
    const got = (await classify(base, next)).breaking.length > 0 ? 1 : 0;
    console.log(`${got === want ? 'ok  ' : 'FAIL'} ${name}`);
    if (got !== want) failed += 1;
  }
  console.log(`schema-diff self-test: ${cases.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

async function main(args) {
  if (args[0] === '--self-test') return selfTest();
  if (args.length !== 2) {
    console.error('usage: node check.mjs OLD.graphql NEW.graphql | --self-test');
    return 2;
  }
  const [oldSdl, newSdl] = args.map((f) => readFileSync(f, 'utf8'));
  const { breaking, allowed, other } = await classify(oldSdl, newSdl);
  // Safe additions can number hundreds (a renamed type re-adds every field): list them when few.
  const shown = other.length <= 20 ? other : other.filter((c) => c.criticality.level !== 'NON_BREAKING');
  for (const c of shown) console.log(`  ${c.criticality.level.toLowerCase()}: ${c.message}`);
  for (const c of allowed) console.log(`  allowed (was deprecated): ${c.message}`);
  for (const c of breaking) console.log(`  BREAKING: ${c.message}`);
  console.log(`schema diff: ${breaking.length} breaking, ${allowed.length} deprecated removals, ` +
    `${other.length} other changes`);
  return breaking.length > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
