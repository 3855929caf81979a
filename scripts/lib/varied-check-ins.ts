// Check-ins of varied shapes, as an instance's athletes send them: each a different subset of the registry's
// variables with ordinary values (scripts/profile-wrk.ts --shapes).
import { CHECK_IN_VARIABLES, INTENSITIES, SESSION_TYPES, TIMES_OF_DAY, type CheckIn } from '../../src/engine/variables.ts';
import { OPERATOR } from './benchmarking.ts';
import { Random } from './synthetic.ts';

/** An ordinary value of each check-in variable (no override of the seed rules: no injury, no short sleep with stress). */
function ordinaryValues(rng: Random): { readonly [K in keyof CheckIn]-?: () => NonNullable<CheckIn[K]> } {
  return {
    sleepHours: () => 6 + rng.int(0, 30) / 10,
    sleepQuality: () => rng.int(4, 9),
    energyLevel: () => rng.int(3, 9),
    stressLevel: () => rng.int(1, 6),
    motivationLevel: () => rng.int(3, 9),
    sorenessLevel: () => rng.int(1, 7),
    daysSinceHardSession: () => rng.int(0, 6),
    caffeineMg: () => rng.int(0, 3) * 100,
    warmupMin: () => rng.int(0, 30),
    daysSinceLastSession: () => rng.int(0, 4),
    daysSinceRestDay: () => rng.int(0, 6),
    injurySeverity: () => rng.int(0, 4),
    pulleyInjuryGrade: () => rng.int(0, 1),
    fingerInjuryPresent: () => rng.bernoulli(0.1),
    alcoholLast24h: () => rng.bernoulli(0.2),
    caffeineToday: () => rng.bernoulli(0.6),
    caffeineHabitual: () => rng.bernoulli(0.5),
    warmupCompleted: () => rng.bernoulli(0.5),
    hydrationStatus: () => rng.int(3, 9),
    temperatureC: () => 10 + rng.int(0, 200) / 10,
    fearOfFalling: () => rng.int(1, 8),
    performanceAnxiety: () => rng.int(1, 8),
    trainingLoadChange: () => rng.int(-10, 20) / 100,
    plannedSessionType: () => rng.pick(SESSION_TYPES),
    plannedIntensity: () => rng.pick(INTENSITIES),
    timeOfDay: () => rng.pick(TIMES_OF_DAY),
    timeAvailableMin: () => rng.int(30, 180),
    currentNiggles: () => [{ location: rng.pick(['left ring finger A2', 'right elbow', 'left knee']), severity: rng.int(1, 4) }],
  };
}

/**
 * n check-ins, each a different subset (about 2-16 fields) of the variables, seeded (the same in every tree and run);
 * the first is the bench's (OPERATOR).
 */
export function variedCheckIns(n: number): CheckIn[] {
  const rng = new Random(20261207);
  const value = ordinaryValues(rng);
  const names = CHECK_IN_VARIABLES.map((spec) => spec.name);
  const checkIns: CheckIn[] = [OPERATOR];
  const seen = new Set([Object.keys(OPERATOR).sort().join()]);
  while (checkIns.length < n) {
    const count = rng.int(2, 16);
    const chosen = names.filter(() => rng.uniform() < count / names.length);
    const key = [...chosen].sort().join();
    if (chosen.length < 2 || seen.has(key)) continue;
    seen.add(key);
    checkIns.push(Object.fromEntries(chosen.map((name) => [name, value[name]()])) as CheckIn);
  }
  return checkIns;
}
