// GraphQL input fields derived from the canonical variable registry, validated by the registry's own rules.
import type { InputFieldBuilder, InputFieldRef, SchemaTypes } from '@pothos/core';
import type { StandardSchemaV1 } from '@pothos/plugin-validation';
import { CHECK_IN_VARIABLES, VariableRangeError, validateVariable, type CheckIn, type Niggle, type VariableSpec } from '../engine/variables.ts';
import { builder } from './builder.ts';
import { IntensityEnum, SessionTypeEnum, TimeOfDayEnum } from './enums.ts';

/**
 * One Standard Schema validator for every registry field of an input object, set on the input type. One call
 * per object, not one per field: Pothos maps arguments again for each event of a subscription, so per-field
 * validators ran 28 field checks per event. Messages name the field (and the part of it, for niggles).
 */
export function variablesValidator(specs: readonly VariableSpec[]): StandardSchemaV1 {
  const byName: ReadonlyMap<string, VariableSpec> = new Map(specs.map((spec) => [spec.name, spec]));
  return {
    '~standard': {
      version: 1,
      vendor: 'climbiq',
      validate(value) {
        const input = (value ?? {}) as Record<string, unknown>;
        // The fields given, by their own keys (a variable left out is valid): no read of each spec's name, a keyed
        // load shared by every field that goes through V8's stub cache, which the rest of a request evicts
        // (BENCHMARKS.md, issue 19 thirteenth round, step 241). A check-in that fails is checked again below in the
        // registry's order, so its message names the same field as before.
        if (allValid(byName, input)) return { value };
        for (const spec of specs) {
          try {
            validateVariable(spec, input[spec.name]);
          } catch (err) {
            if (!(err instanceof VariableRangeError)) throw err;
            // currentNiggles[1].severity -> ['currentNiggles', 1, 'severity']
            const path = [...err.field.matchAll(/^(\w+)|\[(\d+)\]|\.(\w+)/g)].map((m) => m[1] ?? (m[2] !== undefined ? Number(m[2]) : m[3]));
            return { issues: [{ message: err.message, path }] };
          }
        }
        return { value };
      },
    },
  };
}

/** Whether every field of `input` that names one of the variables holds a valid value (undefined and null are). */
function allValid(byName: ReadonlyMap<string, VariableSpec>, input: Readonly<Record<string, unknown>>): boolean {
  for (const name in input) {
    const spec = byName.get(name);
    if (spec === undefined) continue;
    try {
      validateVariable(spec, input[name]);
    } catch {
      return false; // the loop in the registry's order answers (or throws) as before
    }
  }
  return true;
}

export const NiggleInput = builder.inputType('NiggleInput', {
  description: 'A minor pain or injury the athlete reports',
  fields: (t) => ({
    location: t.string({ required: true, description: 'Body part, e.g. "left ring finger A2"' }),
    severity: t.int({ required: true, description: '1-10' }),
    notes: t.string({ description: 'Free text' }),
    recurring: t.boolean({ description: 'Has it happened before?' }),
  }),
});

/** A registry variable's description for the docs: its label, with its range where it has one. */
export const describeVariable = (spec: VariableSpec): string =>
  spec.min === undefined || spec.description.includes(`${spec.min}-${spec.max}`) ? spec.description : `${spec.description} (${spec.min}-${spec.max})`;

type Fields<Types extends SchemaTypes> = Record<string, InputFieldRef<Types, unknown>>;

/** Input fields for the given registry variables: optional (missing means "unknown") unless named in `required`. */
function variableInputFields<Types extends SchemaTypes>(t: InputFieldBuilder<Types, 'InputObject'>, specs: readonly VariableSpec[], required: readonly string[] = []): Fields<Types> {
  const fields: Fields<Types> = {};
  for (const spec of specs) {
    const options = { required: required.includes(spec.name), description: describeVariable(spec) };
    switch (spec.kind) {
      case 'int':
        fields[spec.name] = t.int(options) as InputFieldRef<Types, unknown>;
        break;
      case 'float':
        fields[spec.name] = t.float(options) as InputFieldRef<Types, unknown>;
        break;
      case 'boolean':
        fields[spec.name] = t.boolean(options) as InputFieldRef<Types, unknown>;
        break;
      case 'sessionType':
        fields[spec.name] = t.field({ ...options, type: SessionTypeEnum }) as InputFieldRef<Types, unknown>;
        break;
      case 'intensity':
        fields[spec.name] = t.field({ ...options, type: IntensityEnum }) as InputFieldRef<Types, unknown>;
        break;
      case 'timeOfDay':
        fields[spec.name] = t.field({ ...options, type: TimeOfDayEnum }) as InputFieldRef<Types, unknown>;
        break;
      case 'niggles':
        fields[spec.name] = t.field({ ...options, type: [NiggleInput] }) as InputFieldRef<Types, unknown>;
        break;
    }
  }
  return fields;
}

type FieldsCallback = Parameters<typeof builder.inputType>[1]['fields'];
/** The field builder of an input type's `fields` callback. */
export type InputFields = Parameters<FieldsCallback>[0];

/**
 * An input type with one field per registry variable of `specs`, validated by one `variablesValidator` over
 * the same specs (declared and validated from one list), plus the type's other fields.
 */
export function registryInputType(
  name: string,
  options: {
    description?: string;
    specs: readonly VariableSpec[];
    /** Variables of `specs` the input cannot leave out (non-null in the schema). */
    required?: readonly string[];
    fields?: (t: InputFields) => ReturnType<FieldsCallback>;
  },
) {
  return builder.inputType(name, {
    description: options.description,
    validate: variablesValidator(options.specs),
    fields: (t) => ({ ...variableInputFields(t, options.specs, options.required), ...options.fields?.(t) }),
  });
}

export const PreSessionInput = registryInputType('PreSessionInput', {
  description: 'A pre-session check-in: the variables of the domain model; any may be omitted.',
  specs: CHECK_IN_VARIABLES,
});

const NiggleRef = builder.objectRef<Niggle>('Niggle').implement({
  description: 'A minor pain or injury the athlete reported',
  fields: (t) => ({
    location: t.exposeString('location', { description: 'Body part, e.g. "left ring finger A2"' }),
    severity: t.exposeInt('severity', { description: '1-10' }),
    notes: t.exposeString('notes', { nullable: true, description: 'Free text; null if none' }),
    recurring: t.exposeBoolean('recurring', { nullable: true, description: 'Has it happened before? Null: not said' }),
  }),
});

/** A check-in as submitted (the registry's variables; null = not given). */
export const CheckInRef = builder.objectRef<CheckIn>('CheckIn').implement({
  description: 'A pre-session check-in as submitted; a variable left out is null.',
  fields: (t) =>
    Object.fromEntries(
      CHECK_IN_VARIABLES.map((spec) => {
        const opts = { nullable: true, description: spec.description } as const;
        const value = (c: CheckIn) => (c as Readonly<Record<string, unknown>>)[spec.name] ?? null;
        switch (spec.kind) {
          case 'int':
            return [spec.name, t.int({ ...opts, resolve: (c) => value(c) as number | null })];
          case 'float':
            return [spec.name, t.float({ ...opts, resolve: (c) => value(c) as number | null })];
          case 'boolean':
            return [spec.name, t.boolean({ ...opts, resolve: (c) => value(c) as boolean | null })];
          case 'sessionType':
            return [spec.name, t.field({ ...opts, type: SessionTypeEnum, resolve: (c) => c.plannedSessionType ?? null })];
          case 'intensity':
            return [spec.name, t.field({ ...opts, type: IntensityEnum, resolve: (c) => c.plannedIntensity ?? null })];
          case 'timeOfDay':
            return [spec.name, t.field({ ...opts, type: TimeOfDayEnum, resolve: (c) => c.timeOfDay ?? null })];
          case 'niggles':
            return [spec.name, t.field({ ...opts, type: [NiggleRef], resolve: (c) => c.currentNiggles ?? null })];
          default:
            throw new Error(`No GraphQL field for variable kind ${String((spec as { kind: unknown }).kind)}`);
        }
      }),
    ),
});
