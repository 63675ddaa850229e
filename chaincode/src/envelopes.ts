// Wrapped data keys live in each hospital's implicit private collection; a public
// holder marker beside them lets patients and auditors see who holds a key
// without revealing it. Writing into _implicit_org_X needs X's endorsement.
import type { Context } from 'fabric-contract-api';
import { invalid } from './errors';
import type { Envelope, Holder } from '@ehr/ledger-model';
import { exists, implicitCollection, key, KEY, putJson, toBytes, txTime } from './state';
import * as v from './validate';

const MAX_ENVELOPES = 16;
/** Envelopes delivered to one grantee in one transaction (Access:DeliverEnvelopes). */
export const MAX_BATCH = 1000;
/** A batch's transient JSON: MAX_BATCH envelopes of up to 1 KiB base64 plus their record IDs. */
const MAX_BATCH_JSON = MAX_BATCH * 1500;

export async function storeEnvelope(ctx: Context, recordId: string, mspId: string, wrapped: string, by: string) {
  const now = txTime(ctx);
  const envelope: Envelope = { envelope: wrapped, storedAt: now };
  await ctx.stub.putPrivateData(implicitCollection(mspId), key(ctx, KEY.envelope, recordId), toBytes(envelope));
  const holder: Holder = { since: now, deliveredBy: by };
  await putJson(ctx, key(ctx, KEY.holder, recordId, mspId), holder);
}

export const holds = (ctx: Context, recordId: string, mspId: string) => exists(ctx, key(ctx, KEY.holder, recordId, mspId));

/** purgePrivateData also removes the key from the peers' private-data history, unlike delete. */
export async function purgeEnvelope(ctx: Context, recordId: string, mspId: string) {
  await ctx.stub.purgePrivateData(implicitCollection(mspId), key(ctx, KEY.envelope, recordId));
  await ctx.stub.deleteState(key(ctx, KEY.holder, recordId, mspId));
}

function transientValue(ctx: Context, name: string): string {
  const bytes = ctx.stub.getTransient().get(name);
  if (!bytes || bytes.length === 0) throw invalid(`transient field "${name}" is required`);
  return Buffer.from(bytes).toString('utf8');
}

/** Transient "envelopes": JSON object mspId → base64 wrapped key. */
export function transientEnvelopes(ctx: Context): Map<string, string> {
  const parsed = v.json('transient envelopes', transientValue(ctx, 'envelopes'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('transient envelopes must be a JSON object of mspId → base64');
  }
  const entries = Object.entries(parsed);
  if (entries.length > MAX_ENVELOPES) throw invalid(`at most ${MAX_ENVELOPES} envelopes`);
  return new Map(entries.map(([msp, env]) => [v.mspId(msp, 'envelope mspId'), v.envelope(env, `envelope for ${msp}`)]));
}

/** Transient "envelope": the base64 wrapped key for one hospital. */
export function transientEnvelope(ctx: Context): string {
  return v.envelope(transientValue(ctx, 'envelope'), 'transient envelope');
}

/** Transient "envelopes" of a batch delivery: JSON object recordId → base64 wrapped key, at most MAX_BATCH. */
export function transientBatch(ctx: Context): Map<string, string> {
  const text = transientValue(ctx, 'envelopes');
  if (text.length > MAX_BATCH_JSON) throw invalid('transient envelopes is too long');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('transient envelopes must be JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('transient envelopes must be a JSON object of recordId → base64');
  }
  const entries = Object.entries(parsed);
  if (entries.length === 0) throw invalid('transient envelopes is empty');
  if (entries.length > MAX_BATCH) throw invalid(`at most ${MAX_BATCH} envelopes per batch`);
  return new Map(entries.map(([id, env]) => [v.uuid(id, 'envelope recordId'), v.envelope(env, `envelope for ${id}`)]));
}
