-- AlterTable
ALTER TABLE "training_runs" ADD COLUMN     "slot" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "training_runs_kind_slot_idx" ON "training_runs"("kind", "slot");
