// The variables the nightly PopulationStatistic rows summarise (the database aggregates them: training-data.ts).
import { CHECK_IN_VARIABLES, SESSION_FIELDS } from './variables.ts';

/** Variables summarised by the nightly job: numeric check-in variables marked `statistic`, and sessionQuality. */
export const STATISTIC_VARIABLES: readonly string[] = [...CHECK_IN_VARIABLES, ...SESSION_FIELDS].filter((v) => v.statistic && (v.kind === 'int' || v.kind === 'float')).map((v) => v.name);
