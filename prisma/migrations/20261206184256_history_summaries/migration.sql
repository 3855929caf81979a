-- A stored recommendation keeps its history summary (statisticalContext.personalHistory: the same for every answer
-- of one history version) by reference to one shared, content-addressed summary, as its coefficient comparisons:
-- rows written before keep it inline.
-- AlterTable
ALTER TABLE "recommendations" ADD COLUMN     "personalHistoryId" UUID;

-- CreateTable
CREATE TABLE "history_summaries" (
    "id" UUID NOT NULL,
    "summary" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "history_summaries_pkey" PRIMARY KEY ("id")
);

-- AddForeignKey
ALTER TABLE "recommendations" ADD CONSTRAINT "recommendations_personalHistoryId_fkey" FOREIGN KEY ("personalHistoryId") REFERENCES "history_summaries"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
