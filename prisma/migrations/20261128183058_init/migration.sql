-- CreateEnum
CREATE TYPE "Role" AS ENUM ('ATHLETE', 'COACH', 'ANALYST', 'ADMIN');

-- CreateEnum
CREATE TYPE "Sex" AS ENUM ('MALE', 'FEMALE', 'OTHER', 'UNDISCLOSED');

-- CreateEnum
CREATE TYPE "Discipline" AS ENUM ('BOULDER', 'SPORT', 'TRAD', 'MIXED');

-- CreateEnum
CREATE TYPE "SessionStatus" AS ENUM ('ACTIVE', 'COMPLETED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "SessionType" AS ENUM ('REST_DAY', 'ACTIVE_RECOVERY', 'LIGHT_SESSION', 'TECHNIQUE', 'VOLUME', 'PROJECT', 'LIMIT_BOULDERING');

-- CreateEnum
CREATE TYPE "Intensity" AS ENUM ('MAX', 'HIGH', 'MODERATE', 'LOW');

-- CreateEnum
CREATE TYPE "TimeOfDay" AS ENUM ('MORNING', 'MIDDAY', 'AFTERNOON', 'EVENING');

-- CreateEnum
CREATE TYPE "ModelPhase" AS ENUM ('COLD_START', 'LEARNING', 'PERSONALIZED');

-- CreateEnum
CREATE TYPE "RuleCategory" AS ENUM ('SAFETY', 'INTERACTION', 'CONSERVATIVE', 'PERFORMANCE', 'EDGE_CASE');

-- CreateEnum
CREATE TYPE "TrainingRunKind" AS ENUM ('NIGHTLY', 'USER', 'QUICK_UPDATE');

-- CreateEnum
CREATE TYPE "TrainingRunStatus" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED');

-- CreateEnum
CREATE TYPE "TrainingTrigger" AS ENUM ('SCHEDULE', 'MANUAL', 'SESSION_COMPLETED', 'STARTUP_CATCH_UP');

-- CreateTable
CREATE TABLE "users" (
    "id" UUID NOT NULL,
    "email" TEXT,
    "role" "Role" NOT NULL DEFAULT 'ATHLETE',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "baseline_assessments" (
    "id" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "assessedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "isCurrent" BOOLEAN NOT NULL DEFAULT true,
    "age" INTEGER,
    "sex" "Sex",
    "heightCm" DOUBLE PRECISION,
    "weightKg" DOUBLE PRECISION,
    "armSpanCm" DOUBLE PRECISION,
    "yearsClimbing" DOUBLE PRECISION,
    "currentBoulderGrade" TEXT,
    "peakBoulderGrade" TEXT,
    "currentRouteGrade" TEXT,
    "peakRouteGrade" TEXT,
    "primaryDiscipline" "Discipline",
    "sessionsPerWeek" DOUBLE PRECISION,
    "maxHangWeightKg" DOUBLE PRECISION,
    "maxHangEdgeMm" INTEGER,
    "maxPullups" INTEGER,
    "fearOfFalling" INTEGER,
    "performanceAnxiety" INTEGER,
    "competitionOrientation" INTEGER,
    "processVsOutcome" INTEGER,
    "typicalRecoveryDays" INTEGER,
    "sleepQualityTypical" INTEGER,
    "injuryHistory" JSONB,
    "hasCoach" BOOLEAN,
    "hasHangboard" BOOLEAN,
    "hasHomeWall" BOOLEAN,
    "gymAccess" BOOLEAN,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "baseline_assessments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "climbing_sessions" (
    "id" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "status" "SessionStatus" NOT NULL DEFAULT 'ACTIVE',
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "endedAt" TIMESTAMP(3),
    "sessionType" "SessionType",
    "location" TEXT,
    "isOutdoor" BOOLEAN,
    "sleepHours" DOUBLE PRECISION,
    "sleepQuality" INTEGER,
    "energyLevel" INTEGER,
    "stressLevel" INTEGER,
    "motivationLevel" INTEGER,
    "sorenessLevel" INTEGER,
    "daysSinceHardSession" INTEGER,
    "caffeineMg" INTEGER,
    "warmupMin" INTEGER,
    "daysSinceLastSession" INTEGER,
    "daysSinceRestDay" INTEGER,
    "injurySeverity" INTEGER,
    "pulleyInjuryGrade" INTEGER,
    "fingerInjuryPresent" BOOLEAN,
    "alcoholLast24h" BOOLEAN,
    "caffeineToday" BOOLEAN,
    "caffeineHabitual" BOOLEAN,
    "warmupCompleted" BOOLEAN,
    "hydrationStatus" INTEGER,
    "temperatureC" DOUBLE PRECISION,
    "fearOfFalling" INTEGER,
    "performanceAnxiety" INTEGER,
    "trainingLoadChange" DOUBLE PRECISION,
    "plannedSessionType" "SessionType",
    "plannedIntensity" "Intensity",
    "timeOfDay" "TimeOfDay",
    "timeAvailableMin" INTEGER,
    "currentNiggles" JSONB,
    "plannedCaffeineMg" INTEGER,
    "plannedWarmupMin" INTEGER,
    "plannedDurationMin" INTEGER,
    "sessionQuality" INTEGER,
    "sessionRpe" INTEGER,
    "satisfaction" INTEGER,
    "energyPost" INTEGER,
    "highestGradeSent" TEXT,
    "totalClimbs" INTEGER,
    "notes" TEXT,
    "newNiggles" JSONB,
    "deviatedFromPlan" BOOLEAN NOT NULL DEFAULT false,
    "deviationReason" TEXT,
    "actualSessionType" "SessionType",
    "actualIntensity" "Intensity",
    "actualCaffeineMg" INTEGER,
    "actualWarmupMin" INTEGER,
    "actualDurationMin" INTEGER,
    "recommendationShown" JSONB,
    "recommendationFollowed" BOOLEAN,
    "preSessionData" JSONB,
    "postSessionData" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "climbing_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "model_outputs" (
    "id" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "coefficients" JSONB NOT NULL,
    "credibleIntervals" JSONB NOT NULL,
    "covariance" JSONB NOT NULL,
    "sufficientStats" JSONB NOT NULL,
    "phase" "ModelPhase" NOT NULL DEFAULT 'COLD_START',
    "sessionsIncluded" INTEGER NOT NULL DEFAULT 0,
    "shrinkageFactor" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "modelVersion" TEXT NOT NULL,
    "lastTrainedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "trainingDurationMs" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "dataThrough" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "model_outputs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "population_priors" (
    "id" UUID NOT NULL,
    "variable" TEXT NOT NULL,
    "populationMean" DOUBLE PRECISION NOT NULL,
    "populationStd" DOUBLE PRECISION NOT NULL,
    "individualVariance" DOUBLE PRECISION,
    "referenceValue" DOUBLE PRECISION,
    "effectDirection" TEXT,
    "category" TEXT,
    "confidence" TEXT,
    "source" TEXT,
    "literatureRefs" TEXT[],
    "description" TEXT,
    "optimalMin" DOUBLE PRECISION,
    "optimalMax" DOUBLE PRECISION,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "editedByAdmin" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "population_priors_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "expert_rules" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "conditions" JSONB NOT NULL,
    "actions" JSONB NOT NULL,
    "category" "RuleCategory" NOT NULL,
    "priority" INTEGER NOT NULL,
    "confidence" TEXT,
    "source" TEXT,
    "evidence" TEXT,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "expiresAt" TIMESTAMP(3),
    "supersededById" UUID,
    "editedByAdmin" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "expert_rules_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "population_statistics" (
    "id" UUID NOT NULL,
    "variable" TEXT NOT NULL,
    "mean" DOUBLE PRECISION NOT NULL,
    "std" DOUBLE PRECISION NOT NULL,
    "min" DOUBLE PRECISION NOT NULL,
    "max" DOUBLE PRECISION NOT NULL,
    "n" INTEGER NOT NULL,
    "computedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "population_statistics_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "population_models" (
    "id" UUID NOT NULL,
    "mu" JSONB NOT NULL,
    "tau2" JSONB NOT NULL,
    "sigma2" DOUBLE PRECISION NOT NULL,
    "muSd" JSONB NOT NULL,
    "fittedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "usersIncluded" INTEGER NOT NULL,
    "sessionsIncluded" INTEGER NOT NULL,
    "diagnostics" JSONB,
    "modelVersion" TEXT NOT NULL,

    CONSTRAINT "population_models_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "training_runs" (
    "id" UUID NOT NULL,
    "kind" "TrainingRunKind" NOT NULL,
    "status" "TrainingRunStatus" NOT NULL DEFAULT 'QUEUED',
    "trigger" "TrainingTrigger" NOT NULL,
    "userId" UUID,
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),
    "usersTrained" INTEGER NOT NULL DEFAULT 0,
    "sessionsUsed" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "stageTimings" JSONB,
    "attempts" INTEGER NOT NULL DEFAULT 1,

    CONSTRAINT "training_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "app_settings" (
    "key" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "app_settings_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

-- CreateIndex
CREATE INDEX "baseline_assessments_userId_isCurrent_idx" ON "baseline_assessments"("userId", "isCurrent");

-- CreateIndex
CREATE INDEX "climbing_sessions_userId_startedAt_idx" ON "climbing_sessions"("userId", "startedAt" DESC);

-- CreateIndex
CREATE INDEX "climbing_sessions_userId_status_idx" ON "climbing_sessions"("userId", "status");

-- CreateIndex
CREATE INDEX "climbing_sessions_sessionQuality_idx" ON "climbing_sessions"("sessionQuality");

-- CreateIndex
CREATE INDEX "climbing_sessions_deviatedFromPlan_idx" ON "climbing_sessions"("deviatedFromPlan");

-- CreateIndex
CREATE INDEX "climbing_sessions_updatedAt_idx" ON "climbing_sessions"("updatedAt");

-- CreateIndex
CREATE UNIQUE INDEX "model_outputs_userId_key" ON "model_outputs"("userId");

-- CreateIndex
CREATE INDEX "model_outputs_phase_idx" ON "model_outputs"("phase");

-- CreateIndex
CREATE UNIQUE INDEX "population_priors_variable_key" ON "population_priors"("variable");

-- CreateIndex
CREATE UNIQUE INDEX "expert_rules_name_key" ON "expert_rules"("name");

-- CreateIndex
CREATE UNIQUE INDEX "population_statistics_variable_key" ON "population_statistics"("variable");

-- CreateIndex
CREATE INDEX "population_models_fittedAt_idx" ON "population_models"("fittedAt" DESC);

-- CreateIndex
CREATE INDEX "training_runs_kind_startedAt_idx" ON "training_runs"("kind", "startedAt" DESC);

-- CreateIndex
CREATE INDEX "training_runs_status_idx" ON "training_runs"("status");

-- AddForeignKey
ALTER TABLE "baseline_assessments" ADD CONSTRAINT "baseline_assessments_userId_fkey" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "climbing_sessions" ADD CONSTRAINT "climbing_sessions_userId_fkey" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "model_outputs" ADD CONSTRAINT "model_outputs_userId_fkey" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "expert_rules" ADD CONSTRAINT "expert_rules_supersededById_fkey" FOREIGN KEY ("supersededById") REFERENCES "expert_rules"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "training_runs" ADD CONSTRAINT "training_runs_userId_fkey" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;
