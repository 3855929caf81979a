// GraphQL input fields derived from the canonical variable registry, validated by the registry's own rules.
import type { InputFieldBuilder, InputFieldRef, SchemaTypes } from '@pothos/core';
import type { StandardSchemaV1 } from '@pothos/plugin-validation';
import { CHECK_IN_VARIABLES, VariableRangeError, validateVariable, type VariableSpec } from '../engine/variables.ts';
import { builder } from './builder.ts';
import { IntensityEnum, SessionTypeEnum, TimeOfDayEnum } from './enums.ts';

/** A Standard Schema validator running the registry's validation (messages name the field and range). */
export function variableValidator(spec: VariableSpec): StandardSchemaV1 {
  return {
    '~standard': {
      version: 1,
      vendor: 'climbiq',
      validate(value) {
        try {
          validateVariable(spec, value);
          return { value };
        } catch (err) {
          if (!(err instanceof VariableRangeError)) throw err;
          // Nested parts (currentNiggles[1].severity) become the issue's path below the field.
          const rest = err.field.slice(spec.name.length);
          const path = [...rest.matchAll(/\[(\d+)\]|\.(\w+)/g)].map((m) => (m[1] !== undefined ? Number(m[1]) : m[2]));
          return { issues: [{ message: err.message, path }] };
        }
      },
    },
  };
}

export const NiggleInput = builder.inputType('NiggleInput', {
  fields: (t) => ({
    location: t.string({ required: true, description: 'Body part, e.g. "left ring finger A2"' }),
    severity: t.int({ required: true, description: '1-10' }),
    notes: t.string(),
    recurring: t.boolean(),
  }),
});

type Fields<Types extends SchemaTypes> = Record<string, InputFieldRef<Types, unknown>>;

/** Input fields for the given registry variables (all optional; missing means "unknown"). */
export function variableInputFields<Types extends SchemaTypes>(
  t: InputFieldBuilder<Types, 'InputObject'>,
  specs: readonly VariableSpec[],
): Fields<Types> {
  const fields: Fields<Types> = {};
  for (const spec of specs) {
    const description = spec.min !== undefined ? `${spec.description} (${spec.min}-${spec.max})` : spec.description;
    const options = { required: false, description, validate: variableValidator(spec) } as const;
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

export const PreSessionInput = builder.inputType('PreSessionInput', {
  description: 'A pre-session check-in: the variables of the domain model; any may be omitted.',
  fields: (t) => variableInputFields(t, CHECK_IN_VARIABLES),
});
