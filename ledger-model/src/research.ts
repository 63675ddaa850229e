// Research statistics (DESIGN §9, purpose `research`): aggregate counts over ledger
// metadata, never a document. The chaincode tabulates with these functions, so what a
// researcher may learn (fixed dimensions, small cells suppressed, opted-out patients left
// out) is decided on every endorsing peer, not by a gateway.
import { CATEGORIES } from './vocabulary.js';

/**
 * The only ways to slice the data. Fixed on purpose: free-form filters would let a
 * researcher narrow two queries until they differ by one patient (a differencing attack).
 */
export const RESEARCH_DIMENSIONS = ['category', 'hospital', 'month', 'hospitalsPerPatient'] as const;
export type ResearchDimension = (typeof RESEARCH_DIMENSIONS)[number];

/**
 * The consortium's smallest publishable cell (k): a cell describing fewer patients is
 * suppressed. A hospital may ask for a larger k for its own researchers, never a smaller one;
 * lowering it means a chaincode upgrade, which the consortium's majority must approve.
 */
export const RESEARCH_MIN_CELL_SIZE = 10;
export const RESEARCH_MAX_CELL_SIZE = 1000;

/** A patient's research preference (key research-preference ~ patientId); no key: not opted out. */
export interface ResearchPreference {
  optedOut: boolean;
  setAt: string;
}

/** One logged statistics query (key research-query ~ queryId): who asked what, when. */
export interface ResearchQuery {
  /** The researcher's hospital (from the client identity). */
  hospital: string;
  /** The researcher's pseudonym (the token's sub). */
  researcher: string;
  dimension: ResearchDimension;
  minCellSize: number;
  at: string;
}

/** What tabulation needs of a record: no ID, no CID, no size. */
export interface CountedRecord {
  patientId: string;
  custodian: string;
  category: string;
  createdAt: string;
}

export interface StatisticsCell {
  value: string;
  /** null when suppressed. */
  records: number | null;
  /** Distinct patients in the cell; null when suppressed. */
  patients: number | null;
  suppressed: boolean;
}

export interface StatisticsTotal {
  records: number | null;
  patients: number | null;
  suppressed: boolean;
}

export interface Statistics {
  dimension: ResearchDimension;
  minCellSize: number;
  cells: StatisticsCell[];
  total: StatisticsTotal;
}

interface Tally {
  value: string;
  records: number;
  patients: Set<string>;
}

/** The cells a dimension always shows (zeros included), so a cell's absence tells nothing. */
function fixedValues(dimension: ResearchDimension, hospitals: readonly string[]): string[] {
  switch (dimension) {
    case 'category':
      return [...CATEGORIES];
    case 'hospital':
      return [...hospitals].sort();
    case 'hospitalsPerPatient':
      return hospitals.map((_, i) => String(i + 1));
    case 'month':
      return [];
  }
}

function tallies(dimension: ResearchDimension, records: readonly CountedRecord[], hospitals: readonly string[]): Tally[] {
  const cells = new Map<string, Tally>();
  const cell = (value: string) => {
    let t = cells.get(value);
    if (!t) cells.set(value, (t = { value, records: 0, patients: new Set() }));
    return t;
  };
  for (const value of fixedValues(dimension, hospitals)) cell(value);
  if (dimension === 'hospitalsPerPatient') {
    const byPatient = new Map<string, { custodians: Set<string>; records: number }>();
    for (const r of records) {
      const p = byPatient.get(r.patientId) ?? { custodians: new Set<string>(), records: 0 };
      p.custodians.add(r.custodian);
      p.records += 1;
      byPatient.set(r.patientId, p);
    }
    for (const [patientId, p] of byPatient) {
      const t = cell(String(p.custodians.size));
      t.records += p.records;
      t.patients.add(patientId);
    }
  } else {
    for (const r of records) {
      const value = dimension === 'category' ? r.category : dimension === 'hospital' ? r.custodian : r.createdAt.slice(0, 7);
      const t = cell(value);
      t.records += 1;
      t.patients.add(r.patientId);
    }
  }
  const out = [...cells.values()];
  // Months and numbers of hospitals in their natural order; categories and hospitals as listed.
  if (dimension === 'month') out.sort((a, b) => a.value.localeCompare(b.value));
  if (dimension === 'hospitalsPerPatient') out.sort((a, b) => Number(a.value) - Number(b.value));
  return out;
}

const small = (patients: number, k: number) => patients > 0 && patients < k;

/**
 * Counts records and distinct patients per cell, then suppresses:
 * - primary: a cell with 1..k-1 patients (zero is shown: it describes nobody);
 * - complementary: the total minus the published cells gives the suppressed cells' sum, so
 *   while the suppressed cells together hold 1..k-1 patients, the published cell with the
 *   fewest patients is suppressed too;
 * - the total itself when it holds 1..k-1 patients.
 * `records` must already leave out erased records and opted-out patients.
 */
export function tabulate(
  dimension: ResearchDimension,
  records: readonly CountedRecord[],
  hospitals: readonly string[],
  minCellSize: number,
): Statistics {
  const k = minCellSize;
  const cells = tallies(dimension, records, hospitals);
  const suppressed = new Set(cells.filter((c) => small(c.patients.size, k)));
  const hidden = () => new Set([...suppressed].flatMap((c) => [...c.patients])).size;
  while (small(hidden(), k)) {
    const next = cells
      .filter((c) => !suppressed.has(c) && c.patients.size > 0)
      .sort((a, b) => a.patients.size - b.patients.size || a.records - b.records || a.value.localeCompare(b.value))[0];
    if (!next) break; // every non-empty cell is suppressed; the total is then small too
    suppressed.add(next);
  }
  const patients = new Set(records.map((r) => r.patientId)).size;
  const totalSuppressed = small(patients, k);
  return {
    dimension,
    minCellSize: k,
    cells: cells.map((c) =>
      suppressed.has(c)
        ? { value: c.value, records: null, patients: null, suppressed: true }
        : { value: c.value, records: c.records, patients: c.patients.size, suppressed: false },
    ),
    total: totalSuppressed ? { records: null, patients: null, suppressed: true } : { records: records.length, patients, suppressed: false },
  };
}
