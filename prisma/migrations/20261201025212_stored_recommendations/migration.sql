-- CreateEnum
CREATE TYPE "RecommendationSource" AS ENUM ('MODEL', 'RULE_OVERRIDE');

-- CreateEnum
CREATE TYPE "Confidence" AS ENUM ('LOW', 'MEDIUM', 'HIGH');

-- AlterTable
ALTER TABLE "climbing_sessions" ADD COLUMN     "recommendationId" UUID;

-- CreateTable
CREATE TABLE "recommendations" (
    "id" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "source" "RecommendationSource" NOT NULL,
    "sessionType" "SessionType" NOT NULL,
    "expectedQuality" DOUBLE PRECISION,
    "rawQuality" DOUBLE PRECISION,
    "intervalLow" DOUBLE PRECISION,
    "intervalHigh" DOUBLE PRECISION,
    "confidence" "Confidence",
    "phase" "ModelPhase" NOT NULL,
    "modelFittedAt" TIMESTAMP(3),
    "modelSessionsIncluded" INTEGER NOT NULL,
    "hasBaseline" BOOLEAN NOT NULL,
    "hasPersonalization" BOOLEAN NOT NULL,
    "checkIn" JSONB NOT NULL,
    "matchedRules" TEXT[],
    "overrideRule" TEXT,
    "overrideCategory" "RuleCategory",
    "overrideMessage" TEXT,
    "constraints" JSONB,
    "predictionMultiplier" DOUBLE PRECISION NOT NULL DEFAULT 1,
    "warnings" JSONB NOT NULL,
    "contributions" JSONB,
    "suggestions" JSONB NOT NULL,
    "statisticalContext" JSONB,

    CONSTRAINT "recommendations_pkey" PRIMARY KEY ("id")
);

-- Data: each untyped recommendationShown snapshot becomes a stored recommendation linked to its session
-- (snapshots that recorded only an error are dropped). The check-in is the session's own check-in columns.
UPDATE "climbing_sessions" SET "recommendationId" = gen_random_uuid()
WHERE "recommendationShown" ? 'source' AND "recommendationShown" ? 'sessionType';

INSERT INTO "recommendations" (
    "id", "userId", "createdAt", "source", "sessionType", "expectedQuality", "rawQuality", "intervalLow", "intervalHigh",
    "confidence", "phase", "modelFittedAt", "modelSessionsIncluded", "hasBaseline", "hasPersonalization", "checkIn",
    "matchedRules", "overrideRule", "overrideCategory", "overrideMessage", "constraints", "warnings", "contributions",
    "suggestions", "statisticalContext")
SELECT
    s."recommendationId", s."userId",
    COALESCE((r->>'generatedAt')::timestamptz AT TIME ZONE 'UTC', s."startedAt"),
    (r->>'source')::"RecommendationSource",
    (r->>'sessionType')::"SessionType",
    (r->'prediction'->>'expectedQuality')::double precision,
    (r->'prediction'->>'rawQuality')::double precision,
    (r->'prediction'->'interval'->>'low')::double precision,
    (r->'prediction'->'interval'->>'high')::double precision,
    (r->'prediction'->>'confidence')::"Confidence",
    COALESCE(r->'personalization'->>'phase', r->'prediction'->>'phase', 'COLD_START')::"ModelPhase",
    NULL,
    COALESCE((r->'personalization'->>'sessionsIncluded')::integer, 0),
    COALESCE((r->'personalization'->>'hasBaseline')::boolean, false),
    COALESCE((r->'personalization'->>'hasPersonalization')::boolean, false),
    jsonb_strip_nulls(jsonb_build_object(
        'sleepHours', s."sleepHours",
        'sleepQuality', s."sleepQuality",
        'energyLevel', s."energyLevel",
        'stressLevel', s."stressLevel",
        'motivationLevel', s."motivationLevel",
        'sorenessLevel', s."sorenessLevel",
        'daysSinceHardSession', s."daysSinceHardSession",
        'caffeineMg', s."caffeineMg",
        'warmupMin', s."warmupMin",
        'daysSinceLastSession', s."daysSinceLastSession",
        'daysSinceRestDay', s."daysSinceRestDay",
        'injurySeverity', s."injurySeverity",
        'pulleyInjuryGrade', s."pulleyInjuryGrade",
        'fingerInjuryPresent', s."fingerInjuryPresent",
        'alcoholLast24h', s."alcoholLast24h",
        'caffeineToday', s."caffeineToday",
        'caffeineHabitual', s."caffeineHabitual",
        'warmupCompleted', s."warmupCompleted",
        'hydrationStatus', s."hydrationStatus",
        'temperatureC', s."temperatureC",
        'fearOfFalling', s."fearOfFalling",
        'performanceAnxiety', s."performanceAnxiety",
        'trainingLoadChange', s."trainingLoadChange",
        'plannedSessionType', s."plannedSessionType",
        'plannedIntensity', s."plannedIntensity",
        'timeOfDay', s."timeOfDay",
        'timeAvailableMin', s."timeAvailableMin",
        'currentNiggles', s."currentNiggles")),
    COALESCE(ARRAY(SELECT jsonb_array_elements_text(r->'rulesApplied')), ARRAY[]::text[]),
    r->'override'->>'rule',
    (r->'override'->>'category')::"RuleCategory",
    r->'override'->>'message',
    NULLIF(r->'constraints', 'null'::jsonb),
    COALESCE(r->'warnings', '[]'::jsonb),
    NULLIF(r->'prediction'->'contributions', 'null'::jsonb),
    COALESCE(r->'suggestions', '[]'::jsonb),
    NULLIF(r->'statisticalContext', 'null'::jsonb)
FROM "climbing_sessions" s, LATERAL (SELECT s."recommendationShown" AS r) shown
WHERE s."recommendationId" IS NOT NULL;

ALTER TABLE "climbing_sessions" DROP COLUMN "recommendationShown";

-- CreateIndex
CREATE INDEX "recommendations_userId_createdAt_idx" ON "recommendations"("userId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "recommendations_createdAt_idx" ON "recommendations"("createdAt");

-- CreateIndex
CREATE INDEX "recommendations_matchedRules_idx" ON "recommendations" USING GIN ("matchedRules");

-- CreateIndex
CREATE UNIQUE INDEX "climbing_sessions_recommendationId_key" ON "climbing_sessions"("recommendationId");

-- AddForeignKey
ALTER TABLE "climbing_sessions" ADD CONSTRAINT "climbing_sessions_recommendationId_fkey" FOREIGN KEY ("recommendationId") REFERENCES "recommendations"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "recommendations" ADD CONSTRAINT "recommendations_userId_fkey" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
