// Every GraphQL operation the insights page sends, as fixed documents: `npm run persisted-operations` reads this
// module to put them in the manifest of trusted documents (PERSISTED_OPERATIONS), where the page then sends them by
// their SHA-256 (an operation built at run time could not be listed). Each view asks for a rate-limited field
// (modelQuality, insights) in as few calls as it can: the Model quality view's four panels cost one modelQuality.

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
const FIGURES = 'n rmse mae bias intervalCoverage';

/** The figures over all phases and per phase, each phase's calibration and the figures per time bucket: one modelQuality. */
export const MODEL_QUALITY = `query ModelQuality($from: DateTime, $to: DateTime, $bucket: TimeBucket!) {
  modelQuality(from: $from, to: $to) {
    ${FIGURES}
    byPhase { phase ${FIGURES} calibration { low high n meanPredicted meanActual } }
    overTime(bucket: $bucket) { start ${FIGURES} }
  }
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

/** The athletes of the period whose predictions were worst first (the One athlete view's picker). */
export const ATHLETE_CHOICES = `query AthleteChoices($from: DateTime, $to: DateTime) {
  modelQuality(from: $from, to: $to) {
    byAthlete(first: 100, orderBy: { field: RMSE, direction: DESC }) { totalCount edges { node { userId n rmse bias } } }
  }
}`;

/** The coach's Team view (team.js): the roster, and the live check-ins over SSE. */
export const TEAM_ROSTER = `query TeamRoster {
  me { athletes(first: 30) { totalCount edges { linkId since node { id
    sessions(first: 3) { edges { node { startedAt sessionQuality recommendation { prediction { expectedQuality } } } } } }
    readiness { recommendationId sessionType expectedQuality overridden overrideRule at } } } }
}`;

export const TEAM_CHECK_INS = 'subscription TeamCheckIns { teamCheckIns { athlete { id } recommendationId sessionType expectedQuality overrideRule at } }';

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
  TEAM_ROSTER,
  TEAM_CHECK_INS,
];
