// Argument parsing: every transaction argument passes through one of these
// before anything is read or written, so malformed input never reaches state.
import { invalid } from './errors';
import {
  ACTOR_ID,
  ACTOR_ROLES,
  CATEGORIES,
  HOSPITAL_NAME,
  MSP_ID,
  PATIENT_ID,
  PURPOSES,
  REASONS,
  UUID,
  type Actor,
  type Category,
  type Format,
  type Purpose,
  type Reason,
  type Scope,
} from '@ehr/ledger-model';

const CID_V1_BASE32 = /^b[a-z2-7]{58,127}$/;
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

const MAX_JSON = 16 * 1024;
const MAX_SCOPE_RECORDS = 100;

function str(name: string, v: unknown): string {
  if (typeof v !== 'string') throw invalid(`${name} must be a string`);
  return v;
}

export function matching(name: string, v: unknown, re: RegExp, what: string): string {
  const s = str(name, v);
  if (!re.test(s)) throw invalid(`${name} must be ${what}`);
  return s;
}

const formatted = (name: string, v: unknown, f: Format) => matching(name, v, f.pattern, f.description);

export const patientId = (v: unknown, name = 'patientId') => formatted(name, v, PATIENT_ID);
export const uuid = (v: unknown, name: string) => formatted(name, v, UUID);
export const mspId = (v: unknown, name = 'mspId') => formatted(name, v, MSP_ID);
export const hospitalName = (v: unknown) => formatted('name', v, HOSPITAL_NAME);
/** A code from REASONS: the ledger keeps no free-text reason (it could carry PHI). */
export const reason = (v: unknown) => oneOf<Reason>('reason', v, REASONS);

/** CIDv1 in multibase base32 (the 'b' prefix), as IPFS Cluster returns with cid-version=1. */
export function cid(v: unknown): string {
  const s = matching('cid', v, CID_V1_BASE32, 'a CIDv1 in base32 (b...)');
  const bytes = base32Decode(s.slice(1));
  if (bytes[0] !== 0x01) throw invalid('cid must be a CIDv1');
  return s;
}

function base32Decode(s: string): number[] {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const out: number[] = [];
  let bits = 0;
  let acc = 0;
  for (const ch of s) {
    acc = (acc << 5) | alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return out;
}

/** Ciphertext size in bytes: a decimal string of a positive safe integer. */
export function size(v: unknown): number {
  const s = matching('size', v, /^[1-9][0-9]{0,15}$/, 'a positive integer');
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw invalid('size is too large');
  return n;
}

export function oneOf<T extends string>(name: string, v: unknown, vocabulary: readonly T[]): T {
  const s = str(name, v);
  if (!(vocabulary as readonly string[]).includes(s)) throw invalid(`${name} must be one of ${vocabulary.join(', ')}`);
  return s as T;
}

export const category = (v: unknown) => oneOf<Category>('category', v, CATEGORIES);
export const purpose = (v: unknown) => oneOf<Purpose>('purpose', v, PURPOSES);

/** Strict ISO 8601 date-time with Z or an offset; returned normalised to UTC milliseconds. */
export function isoTime(v: unknown, name: string): string {
  const s = str(name, v);
  const m = ISO_TIME.exec(s);
  if (!m) throw invalid(`${name} must be an ISO 8601 date-time such as 2030-01-31T12:00:00Z`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const offsetOk = m[8] === 'Z' || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59 || !offsetOk) {
    throw invalid(`${name} is not a valid date-time`);
  }
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) throw invalid(`${name} is not a valid date-time`);
  return new Date(ms).toISOString();
}

/** '' means "none". */
export function optional<T>(v: unknown, name: string, parse: (v: unknown, name: string) => T): T | null {
  if (str(name, v) === '') return null;
  return parse(v, name);
}

export function json(name: string, v: unknown): unknown {
  const s = str(name, v);
  if (s.length > MAX_JSON) throw invalid(`${name} is too long`);
  try {
    return JSON.parse(s);
  } catch {
    throw invalid(`${name} must be JSON`);
  }
}

export function plainObject(name: string, v: unknown, allowed: string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${name} must be a JSON object`);
  const extra = Object.keys(v).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw invalid(`${name} has unknown fields: ${extra.join(', ')}`);
  return v as Record<string, unknown>;
}

/** The person the gateway acts for: {"id": pseudonym or patientId, "role": ...}; nothing else is accepted. */
export function actor(v: unknown): Actor {
  const o = plainObject('actor', json('actor', v), ['id', 'role']);
  const role = oneOf('actor.role', o.role, ACTOR_ROLES);
  const id = role === 'patient' ? patientId(o.id, 'actor.id') : matching('actor.id', o.id, ACTOR_ID.pattern, `a pseudonym: ${ACTOR_ID.description}`);
  return { id, role };
}

export function uniqueList<T>(name: string, v: unknown, max: number, item: (x: unknown, name: string) => T): T[] {
  if (!Array.isArray(v) || v.length === 0) throw invalid(`${name} must be a non-empty JSON array`);
  if (v.length > max) throw invalid(`${name} has more than ${max} entries`);
  const items = v.map((x, i) => item(x, `${name}[${i}]`));
  if (new Set(items).size !== items.length) throw invalid(`${name} has duplicates`);
  return items;
}

/** JSON array of purposes, e.g. ["treatment"]. */
export function purposes(v: unknown): Purpose[] {
  return uniqueList('purposes', json('purposes', v), PURPOSES.length, (x, n) => oneOf<Purpose>(n, x, PURPOSES));
}

/**
 * Scope: '' or {} → all records; {"categories": [...]} or {"recordIds": [...]}; an optional
 * "type" ('all' | 'categories' | 'recordIds') is accepted so stored scopes round-trip.
 */
export function scope(v: unknown): Scope {
  if (str('scope', v) === '') return { type: 'all' };
  const o = plainObject('scope', json('scope', v), ['type', 'categories', 'recordIds']);
  const type = o.type === undefined ? undefined : oneOf('scope.type', o.type, ['all', 'categories', 'recordIds'] as const);
  if (o.categories !== undefined && o.recordIds !== undefined) {
    throw invalid('scope takes categories or recordIds, not both');
  }
  if (o.categories !== undefined) {
    if (type !== undefined && type !== 'categories') throw invalid('scope.type does not match its fields');
    const categories = uniqueList('scope.categories', o.categories, CATEGORIES.length, (x, n) =>
      oneOf<Category>(n, x, CATEGORIES),
    );
    return { type: 'categories', categories };
  }
  if (o.recordIds !== undefined) {
    if (type !== undefined && type !== 'recordIds') throw invalid('scope.type does not match its fields');
    const recordIds = uniqueList('scope.recordIds', o.recordIds, MAX_SCOPE_RECORDS, (x, n) => uuid(x, n));
    return { type: 'recordIds', recordIds };
  }
  if (type !== undefined && type !== 'all') throw invalid(`scope of type ${type} needs its list`);
  return { type: 'all' };
}

/** A wrapped data key in base64 (ECIES output is ~125 bytes; the bounds leave room for other schemes). */
export function envelope(v: unknown, name: string): string {
  const s = str(name, v);
  if (s.length % 4 !== 0 || !BASE64.test(s)) throw invalid(`${name} must be base64`);
  const n = Buffer.from(s, 'base64').length;
  if (n < 32 || n > 1024) throw invalid(`${name} must decode to 32-1024 bytes`);
  return s;
}
