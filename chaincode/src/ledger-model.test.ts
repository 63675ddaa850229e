// The shared ledger contract (@ehr/ledger-model): the coded-error format both sides use,
// and the pure access rule, judged on the timestamp it is given.
import {
  accessBasis,
  codedError,
  consentInForce,
  ERROR_CODES,
  EVENT_NAMES,
  isEventName,
  parseCodedError,
  scopeCovers,
  type Consent,
  type ErrorCode,
} from '@ehr/ledger-model';
import { ChaincodeError } from './errors';

describe('coded errors', () => {
  test.each(ERROR_CODES.map((c) => [c]))('%s round-trips through codedError and parseCodedError', (code: ErrorCode) => {
    const detail = 'record r-1 of patient H1MSP:p-1: a detail with: colons';
    expect(parseCodedError(codedError(code, detail))).toEqual({ code, detail });
    // As Fabric wraps it, and as the chaincode throws it.
    expect(parseCodedError(`chaincode response 500, ${codedError(code, detail)}`)).toEqual({ code, detail });
    expect(parseCodedError(new ChaincodeError(code, detail).message)).toEqual({ code, detail });
  });

  test('the format is `<CODE>: <detail>`, and it never changes', () => {
    expect(codedError('FORBIDDEN', 'no consent')).toBe('FORBIDDEN: no consent');
    expect(ERROR_CODES).toEqual(['INVALID_ARGUMENT', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'GONE']);
  });

  test('messages without a code, or with a code inside a word, are not coded', () => {
    expect(parseCodedError('14 UNAVAILABLE: connection refused')).toBeUndefined();
    expect(parseCodedError('status=FORBIDDEN')).toBeUndefined();
    expect(parseCodedError('XNOT_FOUND: x')).toBeUndefined();
    expect(parseCodedError('')).toBeUndefined();
  });

  test('a multi-line detail is kept whole, trimmed', () => {
    expect(parseCodedError('GONE: record r\nerased  ')).toEqual({ code: 'GONE', detail: 'record r\nerased' });
  });
});

describe('event names', () => {
  test('are listed once each', () => {
    expect(new Set(EVENT_NAMES).size).toBe(EVENT_NAMES.length);
    expect(isEventName('RecordCreated')).toBe(true);
    expect(isEventName('recordCreated')).toBe(false);
  });
});

describe('the pure access rule', () => {
  const T = '2030-06-01T12:00:00.000Z';
  const record = { custodian: 'H1MSP', category: 'lab' as const };
  const consent = (over: Partial<Consent> = {}): Consent => ({
    patientId: 'H2MSP:p-1',
    grantee: 'H3MSP',
    scope: { type: 'all' },
    purposes: ['treatment'],
    grantedAt: '2030-01-01T00:00:00.000Z',
    expiresAt: null,
    status: 'active',
    revokedAt: null,
    ...over,
  });
  const ask = (c: Consent, over: Partial<Parameters<typeof accessBasis>[0]> = {}) =>
    accessBasis({ mspId: 'H3MSP', recordId: 'r-1', record, homeHospital: 'H2MSP', consents: [{ consentId: 'c-1', consent: c }], purpose: 'treatment', at: T, ...over });

  test('expiry is judged at the given timestamp: a consent expiring exactly then is no longer in force', () => {
    expect(consentInForce(consent({ expiresAt: T }), T)).toBe(false);
    expect(consentInForce(consent({ expiresAt: '2030-06-01T12:00:00.001Z' }), T)).toBe(true);
    expect(consentInForce(consent({ expiresAt: '2030-06-01T11:59:59.999Z' }), T)).toBe(false);
    expect(consentInForce(consent(), T)).toBe(true);
    expect(consentInForce(consent({ status: 'revoked', revokedAt: T }), T)).toBe(false);
    // The same consent, judged at another moment: the caller's timestamp, never the clock.
    expect(ask(consent({ expiresAt: T }))).toBeNull();
    expect(ask(consent({ expiresAt: T }), { at: '2030-06-01T11:00:00.000Z' })).toBe('c-1');
  });

  test('scopes: all, categories, record IDs', () => {
    expect(scopeCovers({ type: 'all' }, 'r-1', record)).toBe(true);
    expect(scopeCovers({ type: 'categories', categories: ['lab', 'note'] }, 'r-1', record)).toBe(true);
    expect(scopeCovers({ type: 'categories', categories: ['imaging'] }, 'r-1', record)).toBe(false);
    expect(scopeCovers({ type: 'recordIds', recordIds: ['r-1'] }, 'r-1', record)).toBe(true);
    expect(scopeCovers({ type: 'recordIds', recordIds: ['r-2'] }, 'r-1', record)).toBe(false);
    expect(ask(consent({ scope: { type: 'categories', categories: ['imaging'] } }))).toBeNull();
    expect(ask(consent({ scope: { type: 'recordIds', recordIds: ['r-1'] } }))).toBe('c-1');
  });

  test('purposes: the stated one must be granted; null asks for any', () => {
    expect(ask(consent({ purposes: ['research'] }))).toBeNull();
    expect(ask(consent({ purposes: ['research', 'treatment'] }))).toBe('c-1');
    expect(ask(consent({ purposes: ['research'] }), { purpose: null })).toBe('c-1');
  });

  test('custodian and home need no consent; other grantees\' consents count for nothing', () => {
    expect(ask(consent(), { mspId: 'H1MSP', consents: [] })).toBe('custodian');
    expect(ask(consent(), { mspId: 'H2MSP', consents: [] })).toBe('home');
    expect(ask(consent({ grantee: 'H4MSP' }))).toBeNull();
    expect(ask(consent(), { consents: [] })).toBeNull();
  });
});
