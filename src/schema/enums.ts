// Closed sets shared by several types. Values come from the Prisma schema (one source of truth); each value
// carries a description for GraphiQL's docs.
import * as E from '../generated/prisma/enums.ts';
import { builder } from './builder.ts';

/** A Prisma enum as a GraphQL enum, every value described (a value missing here fails to compile). */
function describedEnum<V extends string>(name: string, values: Readonly<Record<string, V>>, description: string, valueDescriptions: Readonly<Record<V, string>>) {
  return builder.enumType(name, {
    description,
    values: Object.fromEntries(Object.values(values).map((value) => [value, { value, description: valueDescriptions[value] }])) as Record<V, { value: V; description: string }>,
  });
}

export const RoleEnum = describedEnum('Role', E.Role, "A user's role, from the token's `role` claim", {
  ATHLETE: 'Reads and changes only their own data',
  COACH: 'For now the same access as an athlete',
  ANALYST: "Reads every athlete's data; changes nothing",
  ADMIN: 'Reads everything, changes their own data, and manages rules, priors and training jobs',
});
export const SexEnum = describedEnum('Sex', E.Sex, 'Self-reported sex', {
  MALE: 'Male',
  FEMALE: 'Female',
  OTHER: 'Another answer',
  UNDISCLOSED: 'Prefers not to say',
});
export const DisciplineEnum = describedEnum('Discipline', E.Discipline, 'Kind of climbing', {
  BOULDER: 'Bouldering',
  SPORT: 'Sport climbing (bolted routes)',
  TRAD: 'Traditional climbing (own protection)',
  MIXED: 'Several of these',
});
export const SessionStatusEnum = describedEnum('SessionStatus', E.SessionStatus, 'Where a session is in its life: it starts ACTIVE, then is completed or cancelled', {
  ACTIVE: 'Started, not yet ended',
  COMPLETED: 'Ended with a rating (sessionQuality): it trains the model',
  CANCELLED: 'Ended without an outcome: never used for training',
});
export const SessionTypeEnum = describedEnum(
  'SessionType',
  E.SessionType,
  'Ordered by intensity: REST_DAY < ACTIVE_RECOVERY < LIGHT_SESSION < TECHNIQUE < VOLUME < PROJECT (LIMIT_BOULDERING ranks with PROJECT)',
  {
    REST_DAY: 'No climbing',
    ACTIVE_RECOVERY: 'Easy movement to recover: mobility, very easy climbing',
    LIGHT_SESSION: 'Short and easy climbing',
    TECHNIQUE: 'Movement drills well below the limit',
    VOLUME: 'Many moderate climbs',
    PROJECT: 'Attempts on a hard route or problem near the limit',
    LIMIT_BOULDERING: 'Maximal boulder moves: as intense as PROJECT',
  },
);
export const IntensityEnum = describedEnum('Intensity', E.Intensity, 'Planned effort of a session', {
  MAX: 'All out',
  HIGH: 'Hard',
  MODERATE: 'Moderate',
  LOW: 'Easy',
});
export const TimeOfDayEnum = describedEnum('TimeOfDay', E.TimeOfDay, "When in the athlete's day the session takes place", {
  MORNING: 'Morning',
  MIDDAY: 'Around noon',
  AFTERNOON: 'Afternoon',
  EVENING: 'Evening',
});
export const ModelPhaseEnum = describedEnum('ModelPhase', E.ModelPhase, "How personal an athlete's model is, by the rated sessions it has seen", {
  COLD_START: 'Fewer than 10 rated sessions: the population model answers',
  LEARNING: '10-29 rated sessions: the personal model, strongly shrunk toward the population',
  PERSONALIZED: '30 or more rated sessions: mostly personal',
});
export const RuleCategoryEnum = describedEnum('RuleCategory', E.RuleCategory, 'What an expert rule guards', {
  SAFETY: 'Injury and health: may override the recommendation outright',
  INTERACTION: 'Factors that are risky together (e.g. little sleep and high stress)',
  CONSERVATIVE: 'Caution about load and recovery',
  PERFORMANCE: 'Getting more out of a session',
  EDGE_CASE: 'Unusual inputs',
});
export const TrainingRunKindEnum = describedEnum('TrainingRunKind', E.TrainingRunKind, 'What a training run fitted', {
  NIGHTLY: 'The hierarchical fit of the population and every athlete',
  USER: "A full refit of one athlete's model (trainUserModel)",
  QUICK_UPDATE: "One athlete's model updated by the session just completed",
});
export const TrainingRunStatusEnum = describedEnum('TrainingRunStatus', E.TrainingRunStatus, 'Where a training run is', {
  QUEUED: 'Waiting to start',
  RUNNING: 'In progress',
  SUCCEEDED: 'Finished; its models are served',
  FAILED: 'Stopped with an error (see error); the previous models stay served',
  SKIPPED: 'Not run because the same job was already running here or on another instance (error says why)',
});
export const TrainingTriggerEnum = describedEnum('TrainingTrigger', E.TrainingTrigger, 'What started a training run', {
  SCHEDULE: 'The nightly schedule (NIGHTLY_TRAINING_CRON)',
  MANUAL: 'A mutation: runNightlyTraining or trainUserModel',
  SESSION_COMPLETED: 'A completed session (quick update)',
  STARTUP_CATCH_UP: 'A server start catching up on a missed night or unprocessed sessions',
});
export const OrderDirectionEnum = builder.enumType('OrderDirection', {
  description: 'Sort direction',
  values: { ASC: { description: 'Smallest (oldest) first' }, DESC: { description: 'Largest (newest) first' } } as const,
});
export const RecommendationSourceEnum = describedEnum('RecommendationSource', E.RecommendationSource, 'What decided the recommended session type', {
  RULE_OVERRIDE: 'An expert rule overrode the model (see override); there is no prediction',
  MODEL: "The athlete's model: the predicted quality, within the rules' constraints",
});
