// The hierarchical Bayesian linear model of domain.md section 6, pure: sufficient statistics in, posteriors out.
//
//   quality_ui = beta_u · (x_ui - c) + e,  e ~ N(0, sigma²)
//   beta_u ~ N(mu, diag(tau²)),  mu_j ~ N(priorMean_j, priorStd_j²)
//   tau_j ~ half-Cauchy(0, sqrt(individualVariance_j))   (default; see TAU_PRIOR_NOTE)
//   sigma² ~ InvGamma(3, 2 · 1.5²)                        (prior mean 1.5²)
//
// The quick update is the exact conjugate posterior of beta_u given cached hyperparameters; the nightly fit
// is mean-field variational Bayes over (beta_u for every user, mu, tau², sigma²), driven only by per-user
// sufficient statistics, so one iteration costs users x p³ whatever the number of sessions.
//
// The rating scale is bounded: a rating of 1 says only that the latent quality was <= 1.5, a 10 that it was
// >= 9.5 (normal.ts). Those rows are kept apart (SufficientStats.bounded) and enter through their censored
// likelihood: data augmentation, the latent value's truncated-normal moments given the current posterior, inside
// the same variational sweeps. An athlete's q(beta_u) is centred at the mode of the censored posterior (the fixed
// point of the augmentation, found by Newton steps) with the censored likelihood's curvature as its precision: a
// bounded row informs less than an observed one (weight in (0, 1)), so the intervals do not claim what a pile
// of 10s cannot say.
//
// One concern per module: sufficient-stats.ts (what is kept of the sessions), hyperparameters.ts (the population
// level), conjugate-posterior.ts (one athlete's N(m, V)), censored-newton.ts (ratings at 1 or 10),
// user-posterior.ts (the quick update, the served model), variational-fit.ts (the nightly fit) and
// hyperparameter-uncertainty.ts (served intervals that carry the uncertainty of tau² and mu). This module is their
// public face.

export const MODEL_VERSION = 'hier-vb-1';

export { type BoundedRows, type SufficientStats, addObservation, addRatedSession, addRating, addSession, emptyStats, mergeStats, parseStats, withoutStats } from './sufficient-stats.ts';
export { type Hyperparameters, parseHyperparameters, priorHyperparameters } from './hyperparameters.ts';
export { type UserPosteriorResult, coefficientsRecord, credibleIntervals, phaseFor, predictiveVariance, shrinkageFactor } from './conjugate-posterior.ts';
export { addRatingLinearised, linearisedStats, populationUserModel, servedModel, userPosterior } from './user-posterior.ts';
export { type FitDiagnostics, type FitOptions, type HierarchicalFit, type ServingFit, type Tau2Prior, fitHierarchical, fitHierarchicalServing, TAU_PRIOR_NOTE } from './variational-fit.ts';
