-- The predictive distribution of a MODEL recommendation, P(rating = k) for k = 1..10, kept with its interval so a
-- recommendation read back answers as it was given, and rows written before it read as an empty list.
-- AlterTable
ALTER TABLE "recommendations" ADD COLUMN     "distribution" DOUBLE PRECISION[] DEFAULT ARRAY[]::DOUBLE PRECISION[];
