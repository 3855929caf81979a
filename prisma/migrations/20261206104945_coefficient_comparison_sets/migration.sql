-- A stored recommendation keeps its coefficient comparisons (the same for every answer of one model version, half
-- of a row) by reference to one shared, content-addressed set: rows written before keep them inline.
-- AlterTable
ALTER TABLE "recommendations" ADD COLUMN     "coefficientComparisonsId" UUID;

-- CreateTable
CREATE TABLE "coefficient_comparison_sets" (
    "id" UUID NOT NULL,
    "comparisons" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "coefficient_comparison_sets_pkey" PRIMARY KEY ("id")
);

-- AddForeignKey
ALTER TABLE "recommendations" ADD CONSTRAINT "recommendations_coefficientComparisonsId_fkey" FOREIGN KEY ("coefficientComparisonsId") REFERENCES "coefficient_comparison_sets"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
