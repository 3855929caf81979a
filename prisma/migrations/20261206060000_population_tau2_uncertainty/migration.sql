-- How uncertain each between-athlete spread is (the covariance of log tau² from the nightly fit's observed
-- information): served intervals carry it, and the quick update needs it to serve the same intervals as the fit.
-- Nullable: population models fitted before it keep serving intervals conditional on tau².
-- AlterTable
ALTER TABLE "population_models" ADD COLUMN     "logTau2Cov" JSONB;
