// The engine's inputs of the benchmarks' athlete (bench.ts's engine phases, bench-writer's rows): the seed rules
// compiled, a personalised model of 30 completed sessions, its history (newest first, as the resolver reads it) and
// population statistics for every statistic variable.
import { readFileSync } from 'node:fs';
import { addSession, emptyStats, priorHyperparameters, userPosterior } from '../../src/engine/bayes/index.ts';
import { compileRules, validateRuleDefinition } from '../../src/engine/rules.ts';
import { CHECK_IN_VARIABLES } from '../../src/engine/variables.ts';
import { simulateAthlete } from './synthetic.ts';

export function benchAthlete() {
  const seedRules = JSON.parse(readFileSync(new URL('../../prisma/seed/expert-rules.json', import.meta.url), 'utf8')) as Record<string, unknown>[];
  const rules = compileRules(seedRules.map((r) => validateRuleDefinition(r as never)));
  const athlete = simulateAthlete(0, 30, { seed: 7 });
  const stats = emptyStats();
  for (const s of athlete.sessions) addSession(stats, s.checkIn as Record<string, unknown>, s.sessionQuality);
  const hyper = priorHyperparameters();
  const model = userPosterior(stats, hyper);
  const origin = Date.UTC(2026, 0, 1);
  // Session ids shaped as the database's (a stored row's similar sessions name them).
  const history = athlete.sessions
    .map((s, i) => ({ id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, startedAt: new Date(origin + s.day * 86_400_000), sessionQuality: s.sessionQuality, checkIn: s.checkIn }))
    .reverse();
  const populationStats = CHECK_IN_VARIABLES.filter((v) => v.statistic).map((v) => {
    const xs = simulateAthlete(1, 200, { seed: 9 })
      .sessions.map((s) => (s.checkIn as Record<string, unknown>)[v.name])
      .filter((x): x is number => typeof x === 'number');
    const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1));
    return { variable: v.name, mean, std, min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
  });
  return { rules, hyper, model, history, populationStats };
}
