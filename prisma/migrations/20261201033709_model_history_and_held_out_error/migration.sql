-- AlterTable
ALTER TABLE "training_runs" ADD COLUMN     "heldOutBias" DOUBLE PRECISION,
ADD COLUMN     "heldOutCoverage" DOUBLE PRECISION,
ADD COLUMN     "heldOutMae" DOUBLE PRECISION,
ADD COLUMN     "heldOutN" INTEGER,
ADD COLUMN     "heldOutRmse" DOUBLE PRECISION;

-- CreateTable
CREATE TABLE "model_snapshots" (
    "id" UUID NOT NULL,
    "trainingRunId" UUID NOT NULL,
    "userId" UUID,
    "fittedAt" TIMESTAMP(3) NOT NULL,
    "phase" "ModelPhase",
    "sessionsIncluded" INTEGER NOT NULL,
    "coefficients" JSONB NOT NULL,

    CONSTRAINT "model_snapshots_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "model_snapshots_userId_fittedAt_idx" ON "model_snapshots"("userId", "fittedAt" DESC);

-- CreateIndex
CREATE INDEX "model_snapshots_trainingRunId_idx" ON "model_snapshots"("trainingRunId");

-- CreateIndex
CREATE INDEX "model_snapshots_fittedAt_idx" ON "model_snapshots"("fittedAt");

-- AddForeignKey
ALTER TABLE "model_snapshots" ADD CONSTRAINT "model_snapshots_trainingRunId_fkey" FOREIGN KEY ("trainingRunId") REFERENCES "training_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "model_snapshots" ADD CONSTRAINT "model_snapshots_userId_fkey" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
