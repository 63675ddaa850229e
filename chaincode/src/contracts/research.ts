import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { requirePatientAtHome } from '../consent-rules';
import { conflict, forbidden, invalid, notFound } from '../errors';
import { emit } from '../events';
import { caller, requireRole } from '../identity';
import { unknownPatient } from '../need-to-know';
import { countedRecords } from '../research-data';
import {
  RESEARCH_DIMENSIONS,
  RESEARCH_MAX_CELL_SIZE,
  RESEARCH_MIN_CELL_SIZE,
  tabulate,
  type Patient,
  type ResearchDimension,
  type ResearchPreference,
  type ResearchQuery,
} from '@ehr/ledger-model';
import { exists, fromBytes, getJson, key, KEY, putJson, scan, txTime } from '../state';
import * as v from '../validate';

/**
 * How long after its log entry a query may be answered. The answer is an evaluation (a scan of
 * every record would make a submitted transaction fail on any concurrent CreateRecord, a phantom
 * read), so the log entry is what ties the answer to an audited request.
 */
const ANSWER_WINDOW_MS = 5 * 60 * 1000;
const MAX_QUERIES_PAGE = 100;

const dimension = (value: unknown) => v.oneOf<ResearchDimension>('dimension', value, RESEARCH_DIMENSIONS);

function minCellSize(value: unknown): number {
  const s = typeof value === 'string' ? value : '';
  if (!/^[0-9]{1,4}$/.test(s)) throw invalid('minCellSize must be a whole number');
  const k = Number(s);
  if (k < RESEARCH_MIN_CELL_SIZE || k > RESEARCH_MAX_CELL_SIZE) {
    throw invalid(`minCellSize must be ${RESEARCH_MIN_CELL_SIZE}-${RESEARCH_MAX_CELL_SIZE} (the consortium's k is ${RESEARCH_MIN_CELL_SIZE}; it can only be raised)`);
  }
  return k;
}

/** An opaque page cursor: the last entry's (at, queryId), which is the listing order. */
const encodeCursor = (at: string, queryId: string) => Buffer.from(JSON.stringify([at, queryId])).toString('base64url');
function decodeCursor(cursor: string): [string, string] {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((p) => typeof p === 'string')) return parsed as [string, string];
  } catch {
    // fall through
  }
  throw invalid('cursor is not one this list returned');
}

@Info({ title: 'Research', description: 'Aggregate statistics for researchers, small cells suppressed, patient opt-out honoured' })
export class ResearchContract extends Contract {
  constructor() {
    super('Research');
  }

  /** The patient, through the home hospital, opts out of (or back into) research statistics. */
  @Transaction()
  @Returns('string')
  public async SetResearchPreference(ctx: Context, patientId: string, optOut: string, actor: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.patientId(patientId);
    if (optOut !== 'true' && optOut !== 'false') throw invalid('optOut must be true or false');
    const who = v.actor(actor);
    await requirePatientAtHome(ctx, mspId, who, id);
    const preference: ResearchPreference = { optedOut: optOut === 'true', setAt: txTime(ctx) };
    await putJson(ctx, key(ctx, KEY.researchPreference, id), preference);
    emit(ctx, 'ResearchPreferenceSet', { patientId: id, homeHospital: mspId });
    return JSON.stringify({ patientId: id, ...preference });
  }

  /** For the patient and the home hospital only; anyone else is told the patient does not exist. */
  @Transaction(false)
  @Returns('string')
  public async GetResearchPreference(ctx: Context, patientId: string, actor: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.patientId(patientId);
    const who = v.actor(actor);
    const patient = await getJson<Patient>(ctx, key(ctx, KEY.patient, id));
    if (!patient || patient.homeHospital !== mspId) throw unknownPatient(id);
    if (who.role === 'patient' ? who.id !== id : who.role !== 'clinician' && who.role !== 'admin') {
      throw forbidden('the research preference is read by the patient and the home hospital\'s staff');
    }
    const preference = await getJson<ResearchPreference>(ctx, key(ctx, KEY.researchPreference, id));
    return JSON.stringify({ patientId: id, optedOut: preference?.optedOut ?? false, setAt: preference?.setAt ?? null });
  }

  /**
   * Step 1 of a statistics query: logs who asks for which dimension (audit before disclosure).
   * Only a researcher, through the gateway of their hospital.
   */
  @Transaction()
  @Returns('string')
  public async LogQuery(ctx: Context, queryId: string, dim: string, k: string, actor: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(queryId, 'queryId');
    const d = dimension(dim);
    const cellSize = minCellSize(k);
    const who = v.actor(actor);
    if (who.role !== 'researcher') throw forbidden('statistics are for researchers');
    const query: ResearchQuery = { hospital: mspId, researcher: who.id, dimension: d, minCellSize: cellSize, at: txTime(ctx) };
    const ledgerKey = key(ctx, KEY.researchQuery, id);
    if (await exists(ctx, ledgerKey)) throw conflict(`query ${id} already exists`);
    await putJson(ctx, ledgerKey, query);
    emit(ctx, 'ResearchQueryLogged', { queryId: id, accessor: mspId, dimension: query.dimension });
    return JSON.stringify({ queryId: id, ...query });
  }

  /**
   * Step 2: the answer to a logged query, computed here from metadata (no document, no key):
   * erased records and opted-out patients left out, small cells suppressed (ledger-model
   * research.ts). Only the hospital that logged the query, within ANSWER_WINDOW_MS of it.
   * A scan of every record: O(ledger), acceptable for occasional research queries.
   */
  @Transaction(false)
  @Returns('string')
  public async Statistics(ctx: Context, queryId: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(queryId, 'queryId');
    const query = await getJson<ResearchQuery>(ctx, key(ctx, KEY.researchQuery, id));
    if (!query || query.hospital !== mspId) throw notFound(`query ${id} does not exist`);
    if (Math.abs(Date.parse(txTime(ctx)) - Date.parse(query.at)) > ANSWER_WINDOW_MS) {
      throw forbidden(`query ${id} was logged more than ${ANSWER_WINDOW_MS / 60_000} minutes ago; log a new one`);
    }
    const hospitals = (await scan(ctx, KEY.hospital, [])).map((r) => r.attributes[0]);
    const stats = tabulate(query.dimension, await countedRecords(ctx), hospitals, query.minCellSize);
    return JSON.stringify({ queryId: id, at: query.at, ...stats });
  }

  /** The query log, oldest first, for auditors of any hospital (it names researchers, never patients). */
  @Transaction(false)
  @Returns('string')
  public async ListQueries(ctx: Context, limit: string, cursor: string, actor: string): Promise<string> {
    const c = caller(ctx);
    const who = v.actor(actor);
    if (!(c.role === 'auditor' || (c.role === 'gateway' && who.role === 'auditor'))) {
      throw forbidden('the research query log is for auditors');
    }
    if (!/^[0-9]{1,3}$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_QUERIES_PAGE) {
      throw invalid(`limit must be 1-${MAX_QUERIES_PAGE}`);
    }
    const after = cursor === '' ? null : decodeCursor(cursor);
    const all = (await scan(ctx, KEY.researchQuery, []))
      .map((r) => ({ queryId: r.attributes[0], ...fromBytes<ResearchQuery>(r.value) }))
      .sort((a, b) => a.at.localeCompare(b.at) || a.queryId.localeCompare(b.queryId));
    const start = after === null ? all : all.filter((q) => q.at > after[0] || (q.at === after[0] && q.queryId > after[1]));
    const page = start.slice(0, Number(limit));
    const last = page.at(-1);
    const nextCursor = start.length > page.length && last ? encodeCursor(last.at, last.queryId) : null;
    return JSON.stringify({ queries: page, nextCursor });
  }
}
