// Stored recommendations: the row a recommendation becomes (the same object the API answers with, so a
// stored and a just-computed recommendation read alike), and the write-behind queue that stores them.
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';
import { memoised, memoSlot } from '../engine/memo.ts';
import { roundShare } from '../engine/rounding.ts';
import type { CoefficientComparison, PersonalHistory, PopulationComparison, SimilarSession, StatisticalContext } from '../engine/statistics.ts';
import type { AssumedValue, Constraints, Contribution, ModelPhase, Prediction, RuleOverride, RuleWarning, Suggestion } from '../engine/types.ts';
import type { CheckIn, SessionType } from '../engine/variables.ts';
import { jsonbBytes } from '../db/jsonb-param.ts';
import { arrayLiteral, PgArrayWriter, type PgElementType } from '../db/pg-arrays.ts';
import { SessionEndedError, type SqlRunner } from '../db/sql.ts';
import type { Recommendation as RecommendationRow } from '../generated/prisma/client.ts';

export type { RecommendationRow };

/** What a recommendation is made of, before it has an id. */
export interface RecommendationParts {
  userId: string;
  checkIn: CheckIn;
  source: 'RULE_OVERRIDE' | 'MODEL';
  sessionType: SessionType;
  override: RuleOverride | null;
  prediction: Prediction | null;
  predictionMultiplier: number;
  matchedRules: string[];
  warnings: RuleWarning[];
  constraints: Constraints | null;
  suggestions: Suggestion[];
  statisticalContext: StatisticalContext | null;
  personalization: { phase: ModelPhase; sessionsIncluded: number; hasBaseline: boolean; hasPersonalization: boolean; fittedAt: Date | null };
}

/**
 * The variables a prediction took at their reference value, with how much each could matter, for the answer being
 * given (the row in hand); a row read back from the table has only its check-in (the coefficients are not kept).
 */
export const assumedInAnswer = new WeakMap<RecommendationRow, AssumedValue[]>();

/**
 * A part of a statistical context stored once (coefficient_comparison_sets, history_summaries) under an id derived
 * from its content, a UUID v5 of its JSON: its id and its JSON.
 */
export interface StoredPart {
  id: string;
  json: string;
}

/**
 * The parts are the engine's memoised objects, shared by every answer of one model version (the comparisons) or
 * history version (the summary) (statistics.ts): their JSON and id are made once per object, not per answer.
 */
function contentAddressed<T extends object>(namespace: string): (part: T) => StoredPart {
  const slot = memoSlot<StoredPart>(`stored part ${namespace}`);
  return (part) =>
    memoised(part, slot, () => {
      const json = JSON.stringify(part);
      return { id: uuidv5(json, namespace), json };
    });
}

const comparisonSet = contentAddressed<readonly CoefficientComparison[]>('5b0f9a3e-6c1d-4f7e-9a2b-0c3d4e5f6a7b');

/** A set of coefficient comparisons as stored once; none for no comparisons (COLD_START). */
export function comparisonSetOf(comparisons: readonly CoefficientComparison[]): StoredPart | null {
  return comparisons.length === 0 ? null : comparisonSet(comparisons);
}

/** A history summary as stored once. */
export const historySummaryOf = contentAddressed<PersonalHistory>('0f6c2d8e-3b7a-4e91-8c5d-2a9e4b7f1c63');

/** A population comparison as a row stores it: its fields in a fixed order, without their names (a third of its bytes). */
type StoredPopulationComparison = [
  PopulationComparison['variable'],
  PopulationComparison['value'],
  PopulationComparison['populationMean'],
  PopulationComparison['populationStd'],
  PopulationComparison['zScore'],
  PopulationComparison['percentile'],
  PopulationComparison['descriptor'],
];
/** A similar session as a row stores it, the same way. */
type StoredSimilarSession = [SimilarSession['sessionId'], SimilarSession['date'], SimilarSession['similarity'], SimilarSession['sharedFeatures'], SimilarSession['sessionQuality']];

/**
 * The part of a statistical context a recommendation row stores itself: its comparisons and history summary are
 * kept by reference, its population comparisons and similar sessions as positional arrays. Rows written before
 * either hold the API's objects (both read back alike).
 */
interface StoredStatisticalContext {
  populationComparison: (StoredPopulationComparison | PopulationComparison)[];
  similarSessions: (StoredSimilarSession | SimilarSession)[];
  insights: string[];
  coefficientComparisons?: CoefficientComparison[];
  personalHistory?: PersonalHistory;
}

// Both ways take either form: a row read back from the table may be written again (as it is) or answered from.
const storedPopulationComparison = (c: StoredPopulationComparison | PopulationComparison): StoredPopulationComparison =>
  Array.isArray(c) ? c : [c.variable, c.value, c.populationMean, c.populationStd, c.zScore, c.percentile, c.descriptor];
const storedSimilarSession = (s: StoredSimilarSession | SimilarSession): StoredSimilarSession => (Array.isArray(s) ? s : [s.sessionId, s.date, s.similarity, s.sharedFeatures, s.sessionQuality]);

const populationComparisonOf = (c: StoredPopulationComparison | PopulationComparison): PopulationComparison =>
  Array.isArray(c) ? { variable: c[0], value: c[1], populationMean: c[2], populationStd: c[3], zScore: c[4], percentile: c[5], descriptor: c[6] } : c;
const similarSessionOf = (s: StoredSimilarSession | SimilarSession): SimilarSession =>
  Array.isArray(s) ? { sessionId: s[0], date: s[1], similarity: s[2], sharedFeatures: s[3], sessionQuality: s[4] } : s;

/** A contribution as a row stores it: its fields in a fixed order, without their names (as the statistical context's lists). */
type StoredContribution = [Contribution['variable'], Contribution['value']];
/** A suggestion as a row stores it, the same way. */
type StoredSuggestion = [Suggestion['variable'], Suggestion['from'], Suggestion['to'], Suggestion['expectedGain'], Suggestion['message']];
/** The constraints as a row stores them, the same way (most answers' are the empty ones: 185 bytes of names as objects). */
type StoredConstraints = [
  Constraints['sessionTypeCeiling'],
  Constraints['suggestedSessionType'],
  Constraints['avoid'],
  Constraints['include'],
  Constraints['warmupMin'],
  Constraints['maxDurationMin'],
  Constraints['reduceVolume'],
  Constraints['hydrationBreaks'],
];

// Both ways take either form, as for the statistical context: a row read back may be written again or answered from.
const storedContribution = (c: StoredContribution | Contribution): StoredContribution => (Array.isArray(c) ? c : [c.variable, c.value]);
const storedSuggestion = (s: StoredSuggestion | Suggestion): StoredSuggestion => (Array.isArray(s) ? s : [s.variable, s.from, s.to, s.expectedGain, s.message]);
const storedConstraints = (c: StoredConstraints | Constraints): StoredConstraints =>
  Array.isArray(c) ? c : [c.sessionTypeCeiling, c.suggestedSessionType, c.avoid, c.include, c.warmupMin, c.maxDurationMin, c.reduceVolume, c.hydrationBreaks];
const contributionOf = (c: StoredContribution | Contribution): Contribution => (Array.isArray(c) ? { variable: c[0], value: c[1] } : c);
const suggestionOf = (s: StoredSuggestion | Suggestion): Suggestion => (Array.isArray(s) ? { variable: s[0], from: s[1], to: s[2], expectedGain: s[3], message: s[4] } : s);

/** A row's contributions as the API answers them (a row in hand, or one written before, holds the objects). */
export function contributionsOf(row: Pick<RecommendationRow, 'contributions'>): Contribution[] {
  const stored = row.contributions as unknown as (StoredContribution | Contribution)[] | null;
  return stored ? stored.map(contributionOf) : [];
}

/** A row's suggestions as the API answers them. */
export function suggestionsOf(row: Pick<RecommendationRow, 'suggestions'>): Suggestion[] {
  return (row.suggestions as unknown as (StoredSuggestion | Suggestion)[]).map(suggestionOf);
}

/** A row's constraints as the API answers them; null after a rule override. */
export function constraintsOf(row: Pick<RecommendationRow, 'constraints'>): Constraints | null {
  const c = row.constraints as unknown as StoredConstraints | Constraints | null;
  if (!Array.isArray(c)) return c;
  return { sessionTypeCeiling: c[0], suggestedSessionType: c[1], avoid: c[2], include: c[3], warmupMin: c[4], maxDurationMin: c[5], reduceVolume: c[6], hydrationBreaks: c[7] };
}

/** What the stored references are read back with (DataLoaders of the request). */
export interface StoredContextLoaders {
  coefficientComparisons: (id: string) => Promise<CoefficientComparison[] | null>;
  historySummary: (id: string) => Promise<PersonalHistory | null>;
}

/**
 * A row's statistical context as the API answers it: a row in hand (just computed) has it whole; a stored row has
 * its comparisons and its history summary by reference (read through `load`), and a row written before either was
 * kept so has it inline.
 */
export async function statisticalContextOf(
  row: Pick<RecommendationRow, 'statisticalContext' | 'coefficientComparisonsId' | 'personalHistoryId'>,
  load: StoredContextLoaders,
): Promise<StatisticalContext | null> {
  const context = row.statisticalContext as unknown as StoredStatisticalContext | null;
  if (!context) return null;
  // A row in hand, or one written before any part was kept apart: the API's objects as they are.
  if (context.coefficientComparisons && context.personalHistory) return context as StatisticalContext;
  const [coefficientComparisons, personalHistory] = await Promise.all([
    context.coefficientComparisons ?? (row.coefficientComparisonsId ? load.coefficientComparisons(row.coefficientComparisonsId) : null),
    context.personalHistory ?? (row.personalHistoryId ? load.historySummary(row.personalHistoryId) : null),
  ]);
  // Never without: the writer stores the summary in the row's statement, and nothing deletes summaries (no foreign key
  // checks it: prisma/schema.prisma's HistorySummary).
  if (!personalHistory) throw new Error(`recommendation history summary ${row.personalHistoryId} not found`);
  return {
    populationComparison: context.populationComparison.map(populationComparisonOf),
    personalHistory,
    similarSessions: context.similarSessions.map(similarSessionOf),
    coefficientComparisons: coefficientComparisons ?? [],
    insights: context.insights,
  };
}

/** Random bytes for ids, drawn for ID_POOL ids at a time: uuid's own v7 asks crypto.getRandomValues for every id (about 4 µs each). */
const ID_POOL = 256;
const idRandom = new Uint8Array(16 * ID_POOL);
let idRandomAt = idRandom.length;
/** The last id's time and counter: ids of one millisecond count up from a random start, as uuid's v7 makes them. */
const idClock = { msecs: Number.NEGATIVE_INFINITY, seq: 0 };
/** The id's 16 bytes as uuid's v7 lays them out, and its text (written in place, then read as one string). */
const idBytes = new Uint8Array(16);
const idText = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Where byte i's two hex digits go in the text (the dashes between). */
const ID_TEXT_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/**
 * The bytes' text, lower-case hex with dashes, as uuid's stringify makes it, in one string: uuid's joins 36 pieces
 * (about 1 kB of intermediate strings an id) and lower-cases the result (0.4-0.7 µs an id against 0.2).
 */
function uuidText(bytes: Uint8Array): string {
  for (let i = 0; i < 16; i++) {
    const b = bytes[i];
    const at = ID_TEXT_AT[i];
    idText[at] = HEX_DIGITS[b >> 4];
    idText[at + 1] = HEX_DIGITS[b & 15];
  }
  return idText.toString('latin1', 0, 36);
}

/** A new recommendation id: a UUIDv7 (its first 48 bits the time it was given, in order within this process). */
export function newRecommendationId(): string {
  if (idRandomAt === idRandom.length) {
    randomFillSync(idRandom);
    idRandomAt = 0;
  }
  const random = idRandom.subarray(idRandomAt, idRandomAt + 16);
  idRandomAt += 16;
  const now = Date.now();
  if (now > idClock.msecs) {
    idClock.msecs = now;
    idClock.seq = ((random[6] & 0x7f) << 24) | (random[7] << 16) | (random[8] << 8) | random[9];
  } else {
    idClock.seq = (idClock.seq + 1) | 0;
    if (idClock.seq === 0) idClock.msecs++;
  }
  return uuidText(uuidv7({ random, msecs: idClock.msecs, seq: idClock.seq }, idBytes));
}

export function recommendationRow(id: string, createdAt: Date, r: RecommendationParts): RecommendationRow {
  const row = recommendationColumns(id, createdAt, r);
  if (r.prediction) assumedInAnswer.set(row, r.prediction.assumed);
  return row;
}

function recommendationColumns(id: string, createdAt: Date, r: RecommendationParts): RecommendationRow {
  const p = r.prediction;
  return {
    id,
    userId: r.userId,
    createdAt,
    source: r.source,
    sessionType: r.sessionType,
    expectedQuality: p?.expectedQuality ?? null,
    rawQuality: p?.rawQuality ?? null,
    intervalLow: p?.interval.low ?? null,
    intervalHigh: p?.interval.high ?? null,
    // As the API answers it (4 decimals, roundShare): the stored row says what the athlete was told, in fewer bytes.
    distribution: p ? p.distribution.map((q) => roundShare(q)) : [],
    confidence: p?.confidence ?? null,
    phase: r.personalization.phase,
    modelFittedAt: r.personalization.fittedAt,
    modelSessionsIncluded: r.personalization.sessionsIncluded,
    hasBaseline: r.personalization.hasBaseline,
    hasPersonalization: r.personalization.hasPersonalization,
    checkIn: r.checkIn as RecommendationRow['checkIn'],
    matchedRules: r.matchedRules,
    overrideRule: r.override?.rule ?? null,
    overrideCategory: r.override?.category ?? null,
    overrideMessage: r.override?.message ?? null,
    constraints: r.constraints as RecommendationRow['constraints'],
    predictionMultiplier: r.predictionMultiplier,
    warnings: r.warnings as unknown as RecommendationRow['warnings'],
    contributions: (p?.contributions ?? null) as RecommendationRow['contributions'],
    suggestions: r.suggestions as unknown as RecommendationRow['suggestions'],
    statisticalContext: r.statisticalContext as unknown as RecommendationRow['statisticalContext'],
    coefficientComparisonsId: r.statisticalContext ? (comparisonSetOf(r.statisticalContext.coefficientComparisons)?.id ?? null) : null,
    personalHistoryId: r.statisticalContext ? historySummaryOf(r.statisticalContext.personalHistory).id : null,
  };
}

/**
 * The statistical context as a row stores it: without its comparisons and history summary, its lists positional. The
 * writer writes its JSON with storedContextJson (the same text, made from parts kept on the shared comparisons).
 */
export function storedContext(row: RecommendationRow): StoredStatisticalContext | null {
  const context = row.statisticalContext as unknown as StoredStatisticalContext | null;
  return (
    context && {
      populationComparison: context.populationComparison.map(storedPopulationComparison),
      similarSessions: context.similarSessions.map(storedSimilarSession),
      insights: context.insights,
    }
  );
}

/**
 * A population comparison's stored JSON, kept on it: the engine shares one comparison object between every answer with
 * the same value under one population statistics version (statistics.ts), so its JSON is made once, not per answer.
 */
const populationComparisonJson = memoSlot<string>('stored population comparison JSON');

/** storedContext's JSON text (JSON.stringify of it, byte for byte), its population comparisons' parts made once each. */
export function storedContextJson(row: RecommendationRow): string | null {
  const context = row.statisticalContext as unknown as StoredStatisticalContext | null;
  if (!context) return null;
  let comparisons = '';
  for (const c of context.populationComparison) {
    const part = Array.isArray(c) ? JSON.stringify(c) : memoised(c, populationComparisonJson, () => JSON.stringify(storedPopulationComparison(c)));
    comparisons = comparisons === '' ? part : `${comparisons},${part}`;
  }
  return `{"populationComparison":[${comparisons}],"similarSessions":${JSON.stringify(context.similarSessions.map(storedSimilarSession))},"insights":${JSON.stringify(context.insights)}}`;
}

/**
 * How each column travels in the writer's statement, one array parameter per column (INSERT_RECOMMENDATIONS_SQL): the array's
 * element type on the wire (binary: src/db/pg-arrays.ts), and the cast the statement applies to an element (an enum
 * from its text; a column holding an array per row from its text form, arrayLiteral); writeRow writes a row's elements.
 */
export type ColumnWire = readonly [column: keyof RecommendationRow, wire: PgElementType, cast: string];
export const COLUMN_WIRES: readonly ColumnWire[] = [
  ['id', 'uuid', ''],
  ['userId', 'uuid', ''],
  ['createdAt', 'timestamp', ''],
  ['source', 'text', '"RecommendationSource"'],
  ['sessionType', 'text', '"SessionType"'],
  ['expectedQuality', 'float8', ''],
  ['rawQuality', 'float8', ''],
  ['intervalLow', 'float8', ''],
  ['intervalHigh', 'float8', ''],
  // The row's first position in the statement's flat array of distributions (DISTRIBUTION_VALUES: insertColumnsSql takes the slice).
  ['distribution', 'int4', ''],
  ['confidence', 'text', '"Confidence"'],
  ['phase', 'text', '"ModelPhase"'],
  ['modelFittedAt', 'timestamp', ''],
  ['modelSessionsIncluded', 'int4', ''],
  ['hasBaseline', 'bool', ''],
  ['hasPersonalization', 'bool', ''],
  ['checkIn', 'json', ''],
  ['matchedRules', 'text', 'text[]'],
  ['overrideRule', 'text', ''],
  ['overrideCategory', 'text', '"RuleCategory"'],
  ['overrideMessage', 'text', ''],
  ['constraints', 'json', ''],
  ['predictionMultiplier', 'float8', ''],
  ['warnings', 'json', ''],
  ['contributions', 'json', ''],
  ['suggestions', 'json', ''],
  ['statisticalContext', 'json', ''],
  ['coefficientComparisonsId', 'uuid', ''],
  ['personalHistoryId', 'uuid', ''],
];

/** A jsonb column's value as its JSON text; null (SQL NULL) for none. */
const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

/**
 * A row's element in each column array, in COLUMN_WIRES' order: written out call by call (one call site a column),
 * which measured about 0.5 µs a row less than calling a function a column from a table (29 targets at one site).
 */
function writeRow(a: readonly PgArrayWriter[], r: RecommendationRow): void {
  a[0].uuid(r.id); // id
  a[1].uuid(r.userId); // userId
  a[2].timestamp(r.createdAt); // createdAt
  a[3].text(r.source); // source
  a[4].text(r.sessionType); // sessionType
  a[5].float8(r.expectedQuality); // expectedQuality
  a[6].float8(r.rawQuality); // rawQuality
  a[7].float8(r.intervalLow); // intervalLow
  a[8].float8(r.intervalHigh); // intervalHigh
  a[9].int4(a[DISTRIBUTION_VALUES].size + 1); // distribution: its first position in the flat array, then its last
  for (const q of r.distribution) a[DISTRIBUTION_VALUES].float8(q);
  a[DISTRIBUTION_TO].int4(a[DISTRIBUTION_VALUES].size);
  a[10].text(r.confidence); // confidence
  a[11].text(r.phase); // phase
  a[12].timestamp(r.modelFittedAt); // modelFittedAt
  a[13].int4(r.modelSessionsIncluded); // modelSessionsIncluded
  a[14].bool(r.hasBaseline); // hasBaseline
  a[15].bool(r.hasPersonalization); // hasPersonalization
  a[16].json(json(r.checkIn)); // checkIn
  a[17].text(arrayLiteral(r.matchedRules)); // matchedRules
  a[18].text(r.overrideRule); // overrideRule
  a[19].text(r.overrideCategory); // overrideCategory
  a[20].text(r.overrideMessage); // overrideMessage
  a[21].json(json(r.constraints && storedConstraints(r.constraints as unknown as StoredConstraints | Constraints))); // constraints
  a[22].float8(r.predictionMultiplier); // predictionMultiplier
  a[23].json(json(r.warnings)); // warnings
  a[24].json(json(r.contributions && (r.contributions as unknown as (StoredContribution | Contribution)[]).map(storedContribution))); // contributions
  a[25].json(json((r.suggestions as unknown as (StoredSuggestion | Suggestion)[]).map(storedSuggestion))); // suggestions
  a[26].json(storedContextJson(r)); // statisticalContext
  a[27].uuid(r.coefficientComparisonsId); // coefficientComparisonsId
  a[28].uuid(r.personalHistoryId); // personalHistoryId
}

/**
 * A row's `distribution` (an array a row) travels as its values in one flat float8 array of the statement (binary, each
 * double its 8 bytes) and the row's first and last positions in it: the statement takes the slice. Sent as each row's
 * array text (cast to double precision[]), every value went through float8in, whose strtod in PGlite's WebAssembly
 * works in software 128-bit floating point: about 20 µs of PGlite's thread a row (BENCHMARKS.md step 143).
 * The two parameters after the column arrays: each row's last position (unnested with them), and the flat values.
 */
const DISTRIBUTION_TO = COLUMN_WIRES.length;
const DISTRIBUTION_VALUES = COLUMN_WIRES.length + 1;

/**
 * The parameters' SQL types in INSERT_RECOMMENDATIONS_SQL: $1 the new comparison sets, $2 the new history summaries,
 * then one array per column, then the distributions' last positions and their flat values.
 */
export const INSERT_COLUMNS_PARAMETER_TYPES: readonly string[] = ['jsonb', 'jsonb', ...COLUMN_WIRES.map(([, wire]) => `${wire}[]`), 'int4[]', 'float8[]'];

/** The statement with one array per column, its parameters named by `param` (the k-th, from 1, and its SQL type). */
function insertColumnsSql(param: (k: number, type: string) => string): string {
  const p = (k: number) => param(k, INSERT_COLUMNS_PARAMETER_TYPES[k - 1]);
  return `WITH sets AS (
  INSERT INTO "coefficient_comparison_sets" ("id", "comparisons")
  SELECT s."id", s."comparisons" FROM jsonb_to_recordset(${p(1)}) AS s("id" uuid, "comparisons" jsonb)
  ON CONFLICT ("id") DO NOTHING
), summaries AS (
  INSERT INTO "history_summaries" ("id", "summary")
  SELECT h."id", h."summary" FROM jsonb_to_recordset(${p(2)}) AS h("id" uuid, "summary" jsonb)
  ON CONFLICT ("id") DO NOTHING
)
INSERT INTO "recommendations" (${COLUMN_WIRES.map(([c]) => `"${c}"`).join(', ')})
SELECT ${COLUMN_WIRES.map(([c, , cast]) => (c === 'distribution' ? `(${p(DISTRIBUTION_VALUES + 3)})[r."distribution":r."distributionTo"]` : cast ? `r."${c}"::${cast}` : `r."${c}"`)).join(', ')}
FROM (SELECT ${COLUMN_WIRES.map(([c], i) => `unnest(${p(i + 3)}) AS "${c}"`).join(', ')}, unnest(${p(DISTRIBUTION_TO + 3)}) AS "distributionTo") AS r`;
}

/**
 * Every row of a batch in one statement (the writer's), each column one array parameter in binary form (StatementColumns):
 * unnest reads them row by row (in the select list, where PostgreSQL 10 and later read the arrays in step, one row at a
 * time, where a multi-array unnest in FROM is a function scan an array, each copying its elements into a tuplestore
 * first: 8-10 % of the database's CPU a row, BENCHMARKS.md step 83), so the database parses only the jsonb columns' JSON (jsonb_recv, each column's text
 * alone) and reads every other value as it is (a uuid's 16 bytes, a double's 8), instead of parsing the whole row as
 * one JSON object and converting each field from it (jsonb_to_recordset, the statement before). $1 and $2 are the
 * coefficient comparison sets and the history summaries its rows name that this writer has not stored yet (usually
 * none: `[]`); a set's or summary's id is derived from its content, so one another instance stored already is skipped
 * (ON CONFLICT DO NOTHING); the rows' athletes are checked at the end of the statement, once each, by the table's trigger
 * (recommendations_user_check: BENCHMARKS.md step 190; the sets and summaries are not: they are never deleted, step 144). A NULL
 * element is SQL NULL; a timestamp is UTC, as Prisma writes it. The text never changes, so PostgreSQL parses and plans
 * it once per connection.
 */
export const INSERT_RECOMMENDATIONS_SQL = insertColumnsSql((k, type) => `$${k}::${type}`);

/**
 * The same statement kept as a function of the database session (pg_temp: it goes with the session, nothing in the
 * schema), for embedded PGlite: PGlite parses and plans every statement its query API is given (no named prepared
 * statements), about 0.3 ms of its thread for this one, while PL/pgSQL plans a function's statement once per session.
 * A PostgreSQL pool prepares the statement itself (named, once per connection), so it sends it as it is.
 */
const STORE_FUNCTION = 'pg_temp.climbiq_store_recommendations';
export const CREATE_STORE_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION ${STORE_FUNCTION}(${INSERT_COLUMNS_PARAMETER_TYPES.map((t, i) => `p${i + 1} ${t}`).join(', ')}) RETURNS void LANGUAGE plpgsql AS $store$
BEGIN
${insertColumnsSql((k) => `p${k}`)};
END
$store$`;
const CALL_STORE_FUNCTION_SQL = `SELECT ${STORE_FUNCTION}(${INSERT_COLUMNS_PARAMETER_TYPES.map((t, i) => `$${i + 1}::${t}`).join(', ')})`;

/**
 * One statement's rows as its column arrays (INSERT_RECOMMENDATIONS_SQL's parameters from the third): each row's values
 * written as soon as it is made, into buffers outside V8's heap, in the arrays' binary form, so the drivers send them as
 * they are. A row whose values cannot be written (its JSON throws) leaves no part of itself in any array.
 */
export class StatementColumns {
  private readonly arrays: PgArrayWriter[];
  /** Where each array stood before the row being added (its bytes, its elements, whether it had a NULL): reused for every row. */
  private readonly lengths: Float64Array;
  private readonly counts: Float64Array;
  private readonly nulls: Uint8Array;
  rows = 0;

  constructor(capacities?: readonly number[]) {
    const wires: PgElementType[] = [...COLUMN_WIRES.map(([, wire]) => wire), 'int4', 'float8'];
    this.arrays = wires.map((wire, i) => new PgArrayWriter(wire, capacities?.[i] ?? 1024));
    this.lengths = new Float64Array(this.arrays.length);
    this.counts = new Float64Array(this.arrays.length);
    this.nulls = new Uint8Array(this.arrays.length);
  }

  add(row: RecommendationRow): void {
    const { arrays, lengths, counts, nulls } = this;
    for (let i = 0; i < arrays.length; i++) {
      lengths[i] = arrays[i].byteLength;
      counts[i] = arrays[i].size;
      nulls[i] = arrays[i].hasNulls ? 1 : 0;
    }
    try {
      writeRow(arrays, row);
    } catch (err) {
      for (let i = 0; i < arrays.length; i++) arrays[i].reset(lengths[i], counts[i], nulls[i] === 1);
      throw err;
    }
    this.rows++;
  }

  /** Empty again for another statement, the arrays' buffers kept (once this statement's parameters have been sent). */
  clear(): void {
    for (const a of this.arrays) a.clear();
    this.rows = 0;
  }

  /** The bytes of the arrays' buffers (what the writer holds outside V8's heap while keeping this set for reuse). */
  get capacity(): number {
    let n = 0;
    for (const a of this.arrays) n += a.capacity;
    return n;
  }

  /** The column arrays' binary forms, in COLUMN_WIRES' order (views of the buffers: valid until the next add). */
  parameters(): Buffer[] {
    return this.arrays.map((a) => a.bytes());
  }

  /** Each array's bytes (the next statement's buffers start at these sizes). */
  get capacities(): number[] {
    return this.arrays.map((a) => a.byteLength);
  }

  /** The bytes of all the arrays. */
  get bytes(): number {
    let n = 0;
    for (const a of this.arrays) n += a.byteLength;
    return n;
  }
}

/** How many coefficient comparison set and history summary ids a writer remembers as stored (beyond it, one is sent again: a no-op). */
const REMEMBERED_SETS = 50_000;

/** Rows per INSERT: bounds one statement's parameter (a few kB of JSON a row) and, on PGlite, how long one
 * statement holds the event loop; the writer lets the loop turn between two statements of a batch. */
const ROWS_PER_INSERT = 200;

/**
 * Column sets a writer keeps for its next statements once their own have been sent (RecommendationWriter.spare): one
 * statement is in flight while the next one's rows are written, so two sets alternate instead of 31 buffers
 * allocated outside V8's heap for every statement; a set grown past SPARE_SET_BYTES (a burst's 200-row statement)
 * is dropped, as every set was before.
 */
const SPARE_SETS = 2;
const SPARE_SET_BYTES = 256 * 1024;

/** Rows queued that have their batch written at once, without the coalescing wait. */
const ROWS_WRITTEN_AT_ONCE = 25;

/** How long queued rows may wait for the streams (`deferWhile`) before they are written regardless. */
export const MAX_WRITE_DEFER_MS = 200;

/**
 * How long the first row of a batch waits for others before the batch is written (unless ROWS_WRITTEN_AT_ONCE rows
 * are queued first, or a reader waits for one of them): a statement costs the same whatever its few rows (on PGlite
 * about 0.3 ms of its thread a statement, on PostgreSQL the driver's round trip on this one), and at a few thousand
 * answers a second, writing every event-loop iteration sent one or two rows a statement. No answer waits for it.
 */
export const WRITE_COALESCE_MS = 5;

export interface RecommendationWriterOptions {
  log?: (msg: string) => void;
  /**
   * While true (streams are waiting for their turn to finish), a scheduled write waits, at most
   * MAX_WRITE_DEFER_MS from the oldest queued row: answering comes first. For PGlite, whose write runs on this
   * thread, so a write in the middle of a burst would delay every DONE still to be sent.
   */
  deferWhile?: () => boolean;
  /**
   * Store through a function of the database session, planned once (CREATE_STORE_FUNCTION_SQL; made before the first
   * write): for a database with one long-lived session that plans every statement it is sent (embedded PGlite).
   * Default false: the statement itself.
   */
  sessionFunction?: boolean;
  /** How long a batch's first row waits for others (WRITE_COALESCE_MS; 0: the next event-loop iteration). */
  coalesceMs?: number;
}

/** A row waiting for its write: its id and the stored parts its statistical context names (the engine keeps each once). */
interface QueuedRow {
  id: string;
  comparisons: StoredPart | null;
  summary: StoredPart | null;
}

function queuedRow(row: RecommendationRow): QueuedRow {
  const context = row.statisticalContext as unknown as StoredStatisticalContext | null;
  return {
    id: row.id,
    // A row read back from the table (its parts by reference only) names parts already stored: nothing to send.
    comparisons: row.coefficientComparisonsId && context?.coefficientComparisons ? comparisonSetOf(context.coefficientComparisons) : null,
    summary: row.personalHistoryId && context?.personalHistory ? historySummaryOf(context.personalHistory) : null,
  };
}

/**
 * Write-behind queue for recommendations: a stream hands its row over when its answer is complete and sends
 * DONE without waiting. One INSERT is in flight at a time: the rows queued within WRITE_COALESCE_MS of a batch's
 * first row are written together (at once when ROWS_WRITTEN_AT_ONCE are queued or a reader waits), and every row queued
 * while a write is under way goes out in one statement as soon as it ends, so the busier the server, the more rows
 * each statement carries (and the fewer statements it pays for).
 * What a hard kill (kill -9, power loss) can lose is bounded by that: the rows in the statement in flight and the
 * rows queued behind it, all answered within the last write's round trip and the coalescing wait (plus, while
 * streams wait for their turn, at most MAX_WRITE_DEFER_MS); a graceful stop (`close`) writes them all. `written(id)` lets a reader that needs the row (startSession right after DONE) wait for its batch
 * instead of missing it.
 */
export class RecommendationWriter {
  private queued: QueuedRow[] = [];
  /** The queued rows' columns, one StatementColumns per ROWS_PER_INSERT rows. */
  private statements: StatementColumns[] = [];
  /** The last statement's arrays' bytes: a new set's buffers start at those sizes. */
  private lastCapacities: number[] | undefined;
  /** Column sets whose statement has been sent, emptied for the next ones (at most SPARE_SETS). */
  private readonly spare: StatementColumns[] = [];
  private batch: { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } | null = null;
  /** id -> the write of its batch, until it has settled. */
  private readonly unsettled = new Map<string, Promise<void>>();
  /** The write under way (never rejects: a failure is logged and reaches its rows' waiters). */
  private inFlight: Promise<void> | null = null;
  private scheduled = false;
  /** The coalescing wait of a scheduled write (WRITE_COALESCE_MS), while it runs. */
  private coalescing: NodeJS.Timeout | null = null;
  private readonly coalesceMs: number;
  /** A reader waits for a row of the queued batch (written(id)): it goes out without the coalescing wait. */
  private readerWaiting = false;
  /** performance.now() when the oldest queued row was queued. */
  private oldestQueuedAt = 0;
  private readonly log: (msg: string) => void;
  /** Coefficient comparison sets and history summaries this writer has stored (oldest first; at most REMEMBERED_SETS). */
  private readonly storedSets = new Set<string>();
  private readonly deferWhile: () => boolean;
  /** The statement each write sends; with `sessionFunction`, made (the function created) by the first write. */
  private statement: Promise<string> | null = null;
  private readonly sessionFunction: boolean;
  /** What this instance has stored so far: rows, batches, INSERT statements, the JSON they carried and the time they took (the write cost), and the time spent making that JSON on this thread (in all, and its longest slice). */
  readonly totals = { rows: 0, batches: 0, inserts: 0, bytes: 0, writeMs: 0, jsonMs: 0, maxJsonMs: 0 };

  constructor(
    /** The database's driver without Prisma (Database.sql): one fixed statement, no per-call query compilation. */
    private readonly sql: SqlRunner,
    options: RecommendationWriterOptions = {},
  ) {
    this.log = options.log ?? console.log;
    this.deferWhile = options.deferWhile ?? (() => false);
    this.sessionFunction = options.sessionFunction ?? false;
    this.coalesceMs = options.coalesceMs ?? WRITE_COALESCE_MS;
  }

  /** The statement to send: the function's call once it exists (a failed creation is tried again by the next write). */
  private insertStatement(): Promise<string> {
    if (!this.sessionFunction) return Promise.resolve(INSERT_RECOMMENDATIONS_SQL);
    // Made again on a session that replaces this one (the embedded database's thread reopened): prepareSession.
    this.statement ??= (this.sql.prepareSession?.(CREATE_STORE_FUNCTION_SQL) ?? this.sql.execute(CREATE_STORE_FUNCTION_SQL)).then(
      () => CALL_STORE_FUNCTION_SQL,
      (err: unknown) => {
        this.statement = null;
        throw err;
      },
    );
    return this.statement;
  }

  enqueue(row: RecommendationRow): void {
    if (!this.batch) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => {}); // a failed batch is logged in write; waiters see the rejection through written()
      this.batch = { promise, resolve, reject };
      this.oldestQueuedAt = performance.now();
    }
    // Its values go into the statement's column arrays now, while the answer's objects are still in the CPU's caches
    // (made eight rows at a time after the answers had gone out, they cost the server's thread about twice as much:
    // BENCHMARKS.md step 308), and the answer's objects are garbage at the next scavenge whatever the write waits for.
    const started = performance.now();
    try {
      this.add(row);
      this.unsettled.set(row.id, this.batch.promise);
    } catch (err) {
      // Not stored, as a failed write: logged, and a reader waiting for it gets the error (until its batch settles).
      this.log(`[ENGINE] 1 recommendation(s) could not be stored: ${(err as Error).message}`);
      const failed = Promise.reject(err);
      failed.catch(() => {});
      this.unsettled.set(row.id, failed);
      const forget = () => this.unsettled.delete(row.id);
      this.batch.promise.then(forget, forget);
    }
    const ms = performance.now() - started;
    this.totals.jsonMs += ms;
    if (ms > this.totals.maxJsonMs) this.totals.maxJsonMs = ms;
    if (this.inFlight) return; // written when the write under way ends
    if (this.queued.length >= ROWS_WRITTEN_AT_ONCE) this.expedite();
    else this.schedule();
  }

  /** The row's values written into the last statement's column arrays (a new set once it holds ROWS_PER_INSERT rows). */
  private add(row: RecommendationRow): void {
    let statement = this.statements.at(-1);
    if (!statement || statement.rows >= ROWS_PER_INSERT) {
      statement = this.spare.pop() ?? new StatementColumns(this.lastCapacities);
      this.statements.push(statement);
    }
    try {
      statement.add(row);
    } catch (err) {
      if (statement.rows === 0) this.statements.pop();
      throw err;
    }
    this.queued.push(queuedRow(row));
  }

  /**
   * The next write: once the oldest queued row has waited WRITE_COALESCE_MS, in a later event-loop iteration (after
   * the streams waiting for their turn, within MAX_WRITE_DEFER_MS).
   */
  private schedule(now = false): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = now ? 0 : this.oldestQueuedAt + this.coalesceMs - performance.now();
    const go = () => {
      this.coalescing = null;
      this.scheduled = false;
      if (this.batch && !this.inFlight && this.deferWhile() && performance.now() - this.oldestQueuedAt < MAX_WRITE_DEFER_MS) this.schedule();
      else this.startWrite();
    };
    if (wait >= 1) this.coalescing = setTimeout(go, wait);
    else setImmediate(go);
  }

  /** The queued rows written without waiting for more (a full slice, or a reader waiting for one of them). */
  private expedite(): void {
    // Already due (or deferred for the streams, which still go first) unless a coalescing wait runs.
    if (this.coalescing) {
      clearTimeout(this.coalescing);
      this.coalescing = null;
      this.scheduled = false;
    }
    this.schedule(true);
  }

  /** Resolves once the row is stored (at once when it is not waiting here); rejects when its batch failed. */
  written(id: string): Promise<void> {
    const pending = this.unsettled.get(id);
    if (!pending) return Promise.resolve();
    if (pending === this.batch?.promise) {
      // A reader waits: no coalescing wait, now or as soon as the write under way ends.
      this.readerWaiting = true;
      if (!this.inFlight) this.expedite();
    }
    return pending;
  }

  /** Writes what is queued now (after the write under way, if any); resolves once it has been written or has failed. */
  flush(): Promise<void> {
    const pending = this.batch?.promise ?? this.inFlight ?? Promise.resolve();
    this.startWrite();
    return pending.then(
      () => {},
      () => {},
    );
  }

  /** Writes everything queued, including what arrives meanwhile, and waits for it (shutdown). */
  async close(): Promise<void> {
    while (this.batch || this.inFlight) await this.flush();
  }

  private startWrite(): void {
    if (this.inFlight || !this.batch) return;
    if (this.coalescing) {
      clearTimeout(this.coalescing);
      this.coalescing = null;
      this.scheduled = false;
    }
    const rows = this.queued;
    const statements = this.statements;
    const batch = this.batch;
    this.queued = [];
    this.statements = [];
    this.batch = null;
    this.readerWaiting = false;
    this.inFlight = this.write(rows, statements, batch).finally(() => {
      this.inFlight = null;
      if (this.batch) this.schedule(this.readerWaiting || this.queued.length >= ROWS_WRITTEN_AT_ONCE); // what queued up meanwhile, in one statement
    });
  }

  /** The comparison sets and history summaries these rows name that this writer has not stored yet (each once). */
  private newSets(rows: readonly QueuedRow[]): { comparisons: StoredPart[]; summaries: StoredPart[] } {
    const comparisons: StoredPart[] = [];
    const summaries: StoredPart[] = [];
    const seen = new Set<string>();
    for (const { comparisons: set, summary } of rows) {
      if (set && !this.storedSets.has(set.id) && !seen.has(set.id)) {
        seen.add(set.id);
        comparisons.push(set);
      }
      if (summary && !this.storedSets.has(summary.id) && !seen.has(summary.id)) {
        seen.add(summary.id);
        summaries.push(summary);
      }
    }
    return { comparisons, summaries };
  }

  private rememberSet(id: string): void {
    if (this.storedSets.size >= REMEMBERED_SETS) this.storedSets.delete(this.storedSets.values().next().value as string);
    this.storedSets.add(id);
  }

  /** One statement, sent once more if the database's session ended under it (a reopened thread): a duplicate id then means it had committed. */
  private async send(setsJson: string, summariesJson: string, columns: readonly Uint8Array[]): Promise<void> {
    // With a driver that takes every parameter in its binary form (PGlite's thread, PostgreSQL's pool) the two JSON
    // ones go as jsonb's binary form too, and the statement as it is (pg-wire.ts); otherwise as text.
    const { executeBinary } = this.sql;
    let execute: (text: string) => Promise<number>;
    if (executeBinary) {
      const binary = [jsonbBytes(setsJson), jsonbBytes(summariesJson), ...columns];
      execute = (text) => executeBinary.call(this.sql, text, binary);
    } else execute = (text) => this.sql.execute(text, [setsJson, summariesJson, ...columns]);
    try {
      await execute(await this.insertStatement());
    } catch (err) {
      if (!(err instanceof SessionEndedError)) throw err;
      this.log(`[ENGINE] ${err.message}: sending a write of recommendations again`);
      await execute(await this.insertStatement()).catch((again: unknown) => {
        if ((again as { code?: unknown }).code !== '23505') throw again;
      });
    }
  }

  private async write(rows: QueuedRow[], statements: readonly StatementColumns[], batch: NonNullable<RecommendationWriter['batch']>): Promise<void> {
    try {
      const started = performance.now();
      for (const [k, statement] of statements.entries()) {
        if (k > 0) await new Promise<void>((resolve) => setImmediate(resolve)); // sockets are read between two statements
        const { comparisons, summaries } = this.newSets(rows.slice(k * ROWS_PER_INSERT, (k + 1) * ROWS_PER_INSERT));
        const setsJson = comparisons.length ? `[${comparisons.map((set) => `{"id":"${set.id}","comparisons":${set.json}}`).join(',')}]` : '[]';
        const summariesJson = summaries.length ? `[${summaries.map((set) => `{"id":"${set.id}","summary":${set.json}}`).join(',')}]` : '[]';
        await this.send(setsJson, summariesJson, statement.parameters());
        for (const set of comparisons) this.rememberSet(set.id);
        for (const set of summaries) this.rememberSet(set.id);
        this.lastCapacities = statement.capacities;
        this.totals.inserts++;
        this.totals.bytes += statement.bytes + setsJson.length + summariesJson.length;
      }
      this.totals.writeMs += performance.now() - started;
      this.totals.rows += rows.length;
      this.totals.batches++;
      batch.resolve();
    } catch (err) {
      this.log(`[ENGINE] ${rows.length} recommendation(s) could not be stored: ${(err as Error).message}`);
      batch.reject(err);
    } finally {
      for (const row of rows) this.unsettled.delete(row.id);
      // Sent (or never to be): their buffers are free for the next statements.
      for (const statement of statements) {
        if (this.spare.length >= SPARE_SETS || statement.capacity > SPARE_SET_BYTES) continue;
        statement.clear();
        this.spare.push(statement);
      }
    }
  }
}
