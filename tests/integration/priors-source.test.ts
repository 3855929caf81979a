// Issue 12 section 5: the PopulationPrior table is the one source of the priors. An admin's upsertPopulationPrior
// reaches the nightly fit (its hyperpriors) and, once a population fit exists, the suggestions (optimal ranges)
// and the statistics (expected directions).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateAthletes } from '../../scripts/lib/synthetic.ts';
import { SEED_PRIORS } from '../../src/engine/variables.ts';
import { gqlOk } from '../support/client.ts';
import { insertAthletes, RUN_NIGHTLY, type TrainingRunView } from '../support/learning.ts';
import { recommendation, type Recommendation } from '../support/recommendation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

const POPULATION = `{ populationModel { coefficients { variable value } } }`;
const UPSERT_PRIOR = `mutation($input: PopulationPriorInput!) { upsertPopulationPrior(input: $input) { variable } }`;

interface Comparison {
  variable: string;
  userCoefficient: number;
  populationCoefficient: number;
  ratio: number | null;
  sensitivity: string;
}

let server: TestServer;
let admin: { token: string; id: string };
/** An athlete with 30 rated sessions (PERSONALIZED once trained), and one with none (served the population). */
let experienced: { token: string; id: string };
let newcomer: { token: string; id: string };

const seed = (variable: string) => {
  const prior = SEED_PRIORS.find((p) => p.variable === variable);
  if (!prior) throw new Error(`no seed prior ${variable}`);
  return prior;
};

async function nightly(): Promise<void> {
  const { runNightlyTraining: run } = await gqlOk<{ runNightlyTraining: TrainingRunView }>(server.url, RUN_NIGHTLY, { wait: true }, admin.token);
  expect(run.status).toBe('SUCCEEDED');
}

async function populationCoefficient(variable: string): Promise<number> {
  const data = await gqlOk<{ populationModel: { coefficients: { variable: string; value: number }[] } }>(server.url, POPULATION, {}, admin.token);
  return data.populationModel.coefficients.find((c) => c.variable === variable)!.value;
}

const comparison = (r: Recommendation, variable: string): Comparison => (r.statisticalContext.coefficientComparisons as Comparison[]).find((c) => c.variable === variable)!;

/** What the statistics say with the expected sign `sign` (statistics.ts: effects measured in the expected direction). */
function expectedSensitivity(c: Comparison, sign: 1 | -1): { sensitivity: string; ratio: number | null } {
  const user = sign * c.userCoefficient;
  const pop = sign * c.populationCoefficient;
  const ratio = pop > 0 && user >= 0 ? user / pop : null;
  if (pop > 0 && user <= 0) return { sensitivity: 'OPPOSITE', ratio };
  if (Math.abs(user - pop) <= 0.2 * Math.abs(pop)) return { sensitivity: 'SIMILAR', ratio };
  return { sensitivity: user > pop ? 'MORE_SENSITIVE' : 'LESS_SENSITIVE', ratio };
}

beforeAll(async () => {
  server = await startTestServer();
  admin = await tokenFor('admin');
  const athletes = simulateAthletes({ seed: 4242, athletes: 12, sessionsPerAthlete: 30 });
  const ids = await insertAthletes(server.services.db.prisma, athletes);
  experienced = await tokenFor('athlete', ids[0]);
  newcomer = await tokenFor('athlete');
  await nightly();
});
afterAll(async () => {
  await server?.close();
});

describe('an admin edit of the priors (upsertPopulationPrior) after a population fit exists', () => {
  const CHECK_IN = { sleepHours: 7, energyLevel: 6, stressLevel: 3, warmupMin: 5, caffeineMg: 0 };
  let before: { sleepHours: number; warmup: Recommendation['suggestions'][number] | undefined; sleepQuality: Comparison };

  beforeAll(async () => {
    before = {
      sleepHours: await populationCoefficient('sleepHours'),
      warmup: (await recommendation(server.url, newcomer.token, CHECK_IN)).suggestions.find((s) => s.variable === 'warmupMin'),
      sleepQuality: comparison(await recommendation(server.url, experienced.token, CHECK_IN), 'sleepQuality'),
    };
    const edits = [
      // A confident prior far from the data: the fit's population mean must follow it.
      { ...pick(seed('sleepHours')), populationMean: 2, populationStd: 0.001 },
      { ...pick(seed('warmupMin')), optimalMin: 30, optimalMax: 40 },
      { ...pick(seed('sleepQuality')), effectDirection: 'negative' },
    ];
    for (const input of edits) await gqlOk(server.url, UPSERT_PRIOR, { input }, admin.token);
    await nightly();
  });

  it("the nightly fit's hyperpriors come from the table", async () => {
    expect(before.sleepHours).toBeLessThan(1);
    expect(await populationCoefficient('sleepHours')).toBeCloseTo(2, 2);
  });

  it("suggestions move toward the table's optimal range", async () => {
    expect(before.warmup).toMatchObject({ from: 5, to: 15 });
    const after = (await recommendation(server.url, newcomer.token, CHECK_IN)).suggestions.find((s) => s.variable === 'warmupMin');
    expect(after).toMatchObject({ variable: 'warmupMin', from: 5, to: 40 });
  });

  it("statistics compare coefficients in the table's expected direction", async () => {
    expect(before.sleepQuality).toMatchObject(expectedSensitivity(before.sleepQuality, 1));
    const after = comparison(await recommendation(server.url, experienced.token, CHECK_IN), 'sleepQuality');
    expect(after).toMatchObject(expectedSensitivity(after, -1));
    // The edit is visible: under the seed's direction the same coefficients would read differently.
    expect(expectedSensitivity(after, -1)).not.toEqual(expectedSensitivity(after, 1));
  });
});

/** The input fields of a seed prior (upsertPopulationPrior replaces what it is given). */
function pick(prior: ReturnType<typeof seed>) {
  return {
    variable: prior.variable,
    populationMean: prior.populationMean,
    populationStd: prior.populationStd,
    individualVariance: prior.individualVariance,
    effectDirection: prior.effectDirection,
    optimalMin: prior.optimalMin ?? null,
    optimalMax: prior.optimalMax ?? null,
  };
}
