// Every GraphQL operation the insights page sends, as fixed documents: `npm run persisted-operations` reads this
// module to put them in the manifest of trusted documents (PERSISTED_OPERATIONS), where the page then sends them by
// their SHA-256. An operation built at run time could not be listed, so the one that varies (a modelQuality per time
// bucket) is listed for every bucket count the page uses.

export const VIEWER = 'query Viewer { me { id role } }';

const insightsPart = (name, selection) => `query ${name}($from: DateTime, $to: DateTime) { insights(from: $from, to: $to) { ${selection} } }`;

export const ATHLETES_BY_PHASE = insightsPart('AthletesByPhase', 'athletesByPhase { phase count }');
export const QUALITY_HISTOGRAM = insightsPart('QualityHistogram', 'qualityHistogram { quality count }');
export const EFFECTS = insightsPart('Effects', 'effects { variable perSd lower upper betweenAthleteSd }');
export const RULES = insightsPart('Rules', 'rules { name matched meanQuality meanQualityOthers }');

export const SESSIONS_OVER_TIME =
  'query SessionsOverTime($from: DateTime, $to: DateTime, $bucket: TimeBucket!) { insights(from: $from, to: $to) { sessionsOverTime(bucket: $bucket) { start count meanQuality } } }';

export const NIGHTLY_RUNS = `query NightlyRuns($from: DateTime, $to: DateTime) {
  trainingRuns(kind: NIGHTLY, from: $from, to: $to, first: 100) {
    totalCount
    edges { node { id status startedAt finishedAt usersTrained sessionsUsed stageTimings { totalMs stages { stage ms } } } }
  }
}`;

export const PHASES = ['COLD_START', 'LEARNING', 'PERSONALIZED'];
const CALIBRATION = 'calibration { low high n meanPredicted meanActual }';

/** The figures over all phases and per phase, and each phase's calibration (one alias per phase). */
export const MODEL_QUALITY = `query ModelQuality($from: DateTime, $to: DateTime) {
  modelQuality(from: $from, to: $to) { n rmse mae bias intervalCoverage byPhase { phase n rmse mae bias intervalCoverage } }
  ${PHASES.map((phase) => `${phase}: modelQuality(from: $from, to: $to, phase: ${phase}) { ${CALIBRATION} }`).join('\n  ')}
}`;

export const HELD_OUT = `query HeldOutError($from: DateTime, $to: DateTime) {
  trainingRuns(kind: NIGHTLY, status: SUCCEEDED, from: $from, to: $to, first: 100) {
    edges { node { startedAt heldOut { n rmse mae } } }
  }
}`;

export const POPULATION = `query Population {
  populationModel { fittedAt usersIncluded sessionsIncluded sigma }
  populationStatistics { variable mean std min max n computedAt }
}`;

export const ATHLETE_SESSIONS = `query AthleteSessions($userId: ID!, $from: DateTime, $to: DateTime) {
  sessions(userId: $userId, status: COMPLETED, from: $from, to: $to, first: 100, orderBy: { field: STARTED_AT, direction: DESC }) {
    totalCount
    edges { node { startedAt sessionQuality recommendation { source prediction { expectedQuality interval { low high } } } } }
  }
}`;

export const ATHLETE_MODEL = `query AthleteModel($userId: ID!, $from: DateTime, $to: DateTime) {
  modelOutput(userId: $userId) { history(from: $from, to: $to) { fittedAt phase sessionsIncluded coefficients { variable value } } }
}`;

export const ATHLETE_CHOICES = `query AthleteChoices { users(role: ATHLETE, first: 100) { edges { node { id modelOutput { phase sessionsIncluded } } } } }`;

/** The coach's Team view (team.js): the roster, and the live check-ins over SSE. */
export const TEAM_ROSTER = `query TeamRoster {
  me { athletes(first: 30) { totalCount edges { linkId since node { id
    sessions(first: 3) { edges { node { startedAt sessionQuality recommendation { prediction { expectedQuality } } } } } }
    readiness { recommendationId sessionType expectedQuality overridden overrideRule at } } } }
}`;

export const TEAM_CHECK_INS = 'subscription TeamCheckIns { teamCheckIns { athlete { id } recommendationId sessionType expectedQuality overrideRule at } }';

/** The quality-over-time panel shows at most this many buckets, one aliased modelQuality each. */
export const MAX_QUALITY_BUCKETS = 24;

/** RMSE and coverage for `count` periods in one request (variables $f0, $t0, ...). */
export function qualityOverTime(count) {
  const vars = Array.from({ length: count }, (_, i) => `$f${i}: DateTime, $t${i}: DateTime`).join(', ');
  const fields = Array.from({ length: count }, (_, i) => `b${i}: modelQuality(from: $f${i}, to: $t${i}) { n rmse intervalCoverage }`).join('\n');
  return `query QualityOverTime(${vars}) { ${fields} }`;
}

/** Every document above, for the manifest. */
export const OPERATIONS = [
  VIEWER,
  ATHLETES_BY_PHASE,
  QUALITY_HISTOGRAM,
  EFFECTS,
  RULES,
  SESSIONS_OVER_TIME,
  NIGHTLY_RUNS,
  MODEL_QUALITY,
  HELD_OUT,
  POPULATION,
  ATHLETE_SESSIONS,
  ATHLETE_MODEL,
  ATHLETE_CHOICES,
  ...Array.from({ length: MAX_QUALITY_BUCKETS }, (_, i) => qualityOverTime(i + 1)),
  TEAM_ROSTER,
  TEAM_CHECK_INS,
];
