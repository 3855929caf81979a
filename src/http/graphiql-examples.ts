// GraphiQL's default tabs: example operations for athletes and for analysts (tests validate them against the schema).
export const ATHLETE_OPERATIONS = `# ClimbIQ API: the athlete's operations (the next tab has the analyst's). Requests need
# "Authorization: Bearer <token>" (Headers below; in development this tab holds the development athlete's);
# npm run token -- --sub <uuid> --role athlete mints one.

query Me {
  me { id role currentBaseline { yearsClimbing primaryDiscipline } modelOutput { phase sessionsIncluded } }
}

query RecentSessions {
  sessions(first: 10) {
    totalCount
    edges { node { id startedAt status sleepHours energyLevel sessionQuality recommendation { source prediction { expectedQuality } } } }
    pageInfo { hasNextPage endCursor }
  }
}

query Recommendation {
  recommendation(input: { sleepHours: 7, energyLevel: 4, stressLevel: 2 }) {
    id source sessionType prediction { expectedQuality interval { low high } contributions { variable value } }
    warnings { rule message } suggestions { message expectedGain }
  }
}

# GraphiQL shows a stream's last event: DONE, which carries the answer (pass recommendationId to startSession).
subscription LiveRecommendation {
  preSessionRecommendation(input: { sleepHours: 7, energyLevel: 4, stressLevel: 2 }) {
    type sequence elapsedMs
    ... on PredictionEvent { prediction { expectedQuality } }
    ... on RuleOverrideEvent { rule message }
    ... on DoneEvent { source recommendationId sessionType expectedQuality totalMs }
  }
}
`;

export const ANALYST_OPERATIONS = `# ClimbIQ API: the analyst's operations (analyst or admin token; npm start prints one in development).

query Overview {
  insights { athletesByPhase { phase count } qualityHistogram { quality count } }
}

query SessionsPerWeek {
  insights(from: "2026-01-01T00:00:00Z") { sessionsOverTime(bucket: WEEK) { start count meanQuality } }
}

query RulesAndEffects {
  insights { rules { name matched meanQuality meanQualityOthers } effects { variable perSd lower upper betweenAthleteSd } }
}

query ModelQuality {
  modelQuality {
    n rmse mae bias intervalCoverage
    calibration { low high n meanPredicted meanActual }
    byPhase { phase n rmse intervalCoverage }
    overTime(bucket: MONTH) { start n rmse intervalCoverage }
  }
}

# Whose predictions are worst: athletes with at least 5 scored sessions, by RMSE (or BIAS, ABS_BIAS, MAE, ...).
query WorstPredictedAthletes {
  modelQuality {
    byAthlete(first: 20, minSessions: 5, orderBy: { field: RMSE, direction: DESC }) {
      totalCount
      edges { node { userId n rmse bias intervalCoverage } }
      pageInfo { hasNextPage endCursor }
    }
  }
}

query BestSessions {
  sessions(first: 20, qualityMin: 8, orderBy: { field: QUALITY, direction: DESC }) {
    totalCount
    edges { node { id startedAt sessionQuality sessionType user { id } recommendation { source prediction { expectedQuality } rulesApplied } } }
    pageInfo { hasNextPage endCursor }
  }
}

query PersonalizedAthletes {
  users(role: ATHLETE, phase: PERSONALIZED, first: 20) {
    totalCount
    edges { node { id modelOutput { sessionsIncluded shrinkageFactor } sessions(first: 1) { totalCount } } }
  }
}

query NightlyHistory {
  trainingRuns(kind: NIGHTLY, first: 10) {
    totalCount
    edges { node { startedAt status usersTrained sessionsUsed stageTimings { totalMs stages { stage ms } } } }
  }
}

# Replay a check-in as an athlete (read-only, not stored): put an athlete's id in userId.
query Replay($userId: ID) {
  recommendation(userId: $userId, input: { sleepHours: 6, energyLevel: 5, stressLevel: 6 }) {
    source sessionType prediction { expectedQuality interval { low high } } rulesApplied personalization { phase }
  }
}
`;
