// Ledger access helpers. Fabric gives no read-your-writes inside a transaction,
// so callers read everything they need before writing.
import type { Context } from 'fabric-contract-api';
import stringify from 'json-stringify-deterministic';
import sortKeysRecursive from 'sort-keys-recursive';

export const KEY = {
  hospital: 'hospital',
  patient: 'patient',
  record: 'record',
  patientRecord: 'patient~record',
  // patient -> each hospital custodian of one of its records: "is a custodian" without reading them all.
  patientCustodian: 'patient~custodian',
  // cid -> the one record naming it: an honest ciphertext never repeats, and a
  // second record on someone else's blob could be erased to delete that blob.
  recordCid: 'cid~record',
  consent: 'consent',
  patientConsent: 'patient~grantee~consent',
  request: 'request',
  patientRequest: 'patient~request',
  access: 'access',
  holder: 'holder',
  envelope: 'envelope',
  departure: 'departure',
  departed: 'departed',
  // Research (contracts/research.ts): a patient's opt-out, and the log of statistics queries.
  researchPreference: 'research-preference',
  researchQuery: 'research-query',
} as const;

// Fabric treats an empty value as a delete, so index entries carry one byte.
const INDEX_VALUE = Uint8Array.of(0);

/** Every endorser must produce byte-identical values, so keys are sorted recursively. */
export function toBytes(value: unknown): Uint8Array {
  return Buffer.from(stringify(sortKeysRecursive(value as object)));
}

export function fromBytes<T>(bytes: Uint8Array): T {
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
}

export const key = (ctx: Context, type: string, ...attrs: string[]) => ctx.stub.createCompositeKey(type, attrs);

export async function getJson<T>(ctx: Context, k: string): Promise<T | undefined> {
  const bytes = await ctx.stub.getState(k);
  return bytes && bytes.length > 0 ? fromBytes<T>(bytes) : undefined;
}

export async function exists(ctx: Context, k: string): Promise<boolean> {
  const bytes = await ctx.stub.getState(k);
  return !!bytes && bytes.length > 0;
}

export async function putJson(ctx: Context, k: string, value: unknown): Promise<void> {
  await ctx.stub.putState(k, toBytes(value));
}

export async function putIndex(ctx: Context, type: string, ...attrs: string[]): Promise<void> {
  await ctx.stub.putState(key(ctx, type, ...attrs), INDEX_VALUE);
}

export interface Row {
  key: string;
  attributes: string[];
  value: Uint8Array;
}

/** What the stub's range queries hand back (plain or paginated). */
export interface StateIterator {
  next(): Promise<{ done: boolean; value: { key: string; value: Uint8Array } }>;
  close(): Promise<void>;
}

/**
 * The rows of a range query, in its order. The peer holds an open query until it
 * is closed, so the iterator is closed however the caller stops: at the end, or
 * early through a break, a return or a throw.
 */
export async function* rowsOf(ctx: Context, iterator: StateIterator): AsyncGenerator<Row> {
  try {
    for (let res = await iterator.next(); !res.done; res = await iterator.next()) {
      const { attributes } = ctx.stub.splitCompositeKey(res.value.key);
      yield { key: res.value.key, attributes, value: res.value.value };
    }
  } finally {
    await iterator.close();
  }
}

/** Range scan over a partial composite key: O(matching keys), in key order. */
export async function scan(ctx: Context, type: string, attrs: string[]): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const row of rowsOf(ctx, await ctx.stub.getStateByPartialCompositeKey(type, attrs))) rows.push(row);
  return rows;
}

/** Whether any row of the index satisfies test: stops at the first that does, where a scan would read them all. */
export async function someRow(ctx: Context, type: string, attrs: string[], test: (row: Row) => Promise<boolean>): Promise<boolean> {
  for await (const row of rowsOf(ctx, await ctx.stub.getStateByPartialCompositeKey(type, attrs))) {
    if (await test(row)) return true;
  }
  return false;
}

export interface HistoryEntry<T> {
  txId: string;
  timestamp: string;
  isDelete: boolean;
  value: T | null;
}

export async function history<T>(ctx: Context, k: string): Promise<HistoryEntry<T>[]> {
  const iterator = await ctx.stub.getHistoryForKey(k);
  const out: HistoryEntry<T>[] = [];
  try {
    let res = await iterator.next();
    while (!res.done) {
      const m = res.value;
      out.push({
        txId: m.txId,
        timestamp: timestampToIso(m.timestamp),
        isDelete: m.isDelete,
        value: m.isDelete || !m.value || m.value.length === 0 ? null : fromBytes<T>(m.value),
      });
      res = await iterator.next();
    }
  } finally {
    await iterator.close();
  }
  return out;
}

interface LongLike {
  toNumber(): number;
}
interface TimestampLike {
  seconds: number | string | LongLike;
  nanos: number;
}

function timestampToIso(ts: TimestampLike): string {
  const s = ts.seconds;
  const seconds = typeof s === 'object' ? s.toNumber() : Number(s);
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

/** The proposal's timestamp: identical on every endorser, unlike the local clock. */
export function txTime(ctx: Context): string {
  return timestampToIso(ctx.stub.getTxTimestamp() as unknown as TimestampLike);
}

export const implicitCollection = (mspId: string) => `_implicit_org_${mspId}`;
