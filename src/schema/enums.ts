// Closed sets shared by several types. Values come from the Prisma schema (one source of truth).
import * as E from '../generated/prisma/enums.ts';
import { builder } from './builder.ts';

export const RoleEnum = builder.enumType(E.Role, { name: 'Role' });
export const SexEnum = builder.enumType(E.Sex, { name: 'Sex' });
export const DisciplineEnum = builder.enumType(E.Discipline, { name: 'Discipline' });
export const SessionStatusEnum = builder.enumType(E.SessionStatus, { name: 'SessionStatus' });
export const SessionTypeEnum = builder.enumType(E.SessionType, {
  name: 'SessionType',
  description: 'Ordered by intensity: REST_DAY < ACTIVE_RECOVERY < LIGHT_SESSION < TECHNIQUE < VOLUME < PROJECT (LIMIT_BOULDERING ranks with PROJECT)',
});
export const IntensityEnum = builder.enumType(E.Intensity, { name: 'Intensity' });
export const TimeOfDayEnum = builder.enumType(E.TimeOfDay, { name: 'TimeOfDay' });
export const ModelPhaseEnum = builder.enumType(E.ModelPhase, { name: 'ModelPhase' });
export const RuleCategoryEnum = builder.enumType(E.RuleCategory, { name: 'RuleCategory' });
export const TrainingRunKindEnum = builder.enumType(E.TrainingRunKind, { name: 'TrainingRunKind' });
export const TrainingRunStatusEnum = builder.enumType(E.TrainingRunStatus, { name: 'TrainingRunStatus' });
export const TrainingTriggerEnum = builder.enumType(E.TrainingTrigger, { name: 'TrainingTrigger' });
export const OrderDirectionEnum = builder.enumType('OrderDirection', { values: ['ASC', 'DESC'] as const });
