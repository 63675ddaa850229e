import * as v from './validate';

const bad = (fn: () => unknown) => expect(fn).toThrow(/^INVALID_ARGUMENT: /);

describe('argument validation', () => {
  test('actor: exactly {id, role} with a known role', () => {
    expect(v.actor('{"id":"dr-1","role":"clinician"}')).toEqual({ id: 'dr-1', role: 'clinician' });
    bad(() => v.actor('{"id":"dr-1","role":"clinician","name":"Jane Doe"}'));
    bad(() => v.actor('{"id":"dr-1","role":"nurse"}'));
    bad(() => v.actor('{"id":"jane@example.org","role":"clinician"}'));
    bad(() => v.actor('{"id":"","role":"clinician"}'));
    bad(() => v.actor('{"id":"p","role":"patient"}')); // patient IDs follow the pseudonym format
    bad(() => v.actor('[]'));
    bad(() => v.actor('not json'));
    bad(() => v.actor(42 as unknown as string));
  });

  test('patient IDs and UUIDs', () => {
    expect(v.patientId('p-123_a.b')).toBe('p-123_a.b');
    for (const id of ['ab', 'a'.repeat(65), 'p 1', 'p/1', 'ü123']) bad(() => v.patientId(id));
    expect(v.uuid('3f1c2a9e-1b2c-4d5e-8f90-123456789abc', 'id')).toBeTruthy();
    bad(() => v.uuid('3F1C2A9E-1B2C-4D5E-8F90-123456789ABC', 'id'));
    bad(() => v.uuid('3f1c2a9e1b2c4d5e8f90123456789abc', 'id'));
  });

  test('CIDv1 base32 only', () => {
    expect(v.cid('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')).toBeTruthy();
    bad(() => v.cid('QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o')); // CIDv0
    bad(() => v.cid('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52z1')); // '1' not base32
    bad(() => v.cid('baakreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')); // version byte 0
    bad(() => v.cid('bafk'));
  });

  test('size is a positive safe integer in decimal', () => {
    expect(v.size('63800')).toBe(63800);
    for (const s of ['0', '-1', '1.5', '01', '1e3', '', '99999999999999999']) bad(() => v.size(s));
  });

  test('ISO timestamps are strict and normalised to UTC', () => {
    expect(v.isoTime('2031-02-28T12:00:00Z', 't')).toBe('2031-02-28T12:00:00.000Z');
    expect(v.isoTime('2031-02-28T12:00:00.5+02:00', 't')).toBe('2031-02-28T10:00:00.500Z');
    for (const s of ['2031-02-30T00:00:00Z', '2031-13-01T00:00:00Z', '2031-01-01', '2031-01-01T00:00:00', 'tomorrow']) {
      bad(() => v.isoTime(s, 't'));
    }
    expect(v.optional('', 't', v.isoTime)).toBeNull();
  });

  test('vocabularies', () => {
    expect(v.category('lab')).toBe('lab');
    bad(() => v.category('LAB'));
    expect(v.purpose('public-health')).toBe('public-health');
    bad(() => v.purpose('marketing'));
    expect(v.purposes('["treatment","research"]')).toEqual(['treatment', 'research']);
    for (const p of ['[]', '["treatment","treatment"]', '["marketing"]', '"treatment"', '{}']) bad(() => v.purposes(p));
  });

  test('scope: all, categories or recordIds, never both', () => {
    expect(v.scope('')).toEqual({ type: 'all' });
    expect(v.scope('{}')).toEqual({ type: 'all' });
    expect(v.scope('{"type":"all"}')).toEqual({ type: 'all' });
    expect(v.scope('{"categories":["lab"]}')).toEqual({ type: 'categories', categories: ['lab'] });
    const id = '3f1c2a9e-1b2c-4d5e-8f90-123456789abc';
    expect(v.scope(`{"type":"recordIds","recordIds":["${id}"]}`)).toEqual({ type: 'recordIds', recordIds: [id] });
    for (const s of [
      `{"categories":["lab"],"recordIds":["${id}"]}`,
      '{"categories":[]}',
      '{"categories":["x-ray"]}',
      '{"recordIds":["not-a-uuid"]}',
      '{"type":"categories"}',
      '{"type":"recordIds","categories":["lab"]}',
      '{"patients":["p-1"]}',
      '"all"',
    ]) {
      bad(() => v.scope(s));
    }
  });

  test('reason: a code from the vocabulary, never free text', () => {
    for (const r of ['referral', 'second-opinion', 'emergency', 'follow-up', 'continuity-of-care', 'transfer', 'other']) {
      expect(v.reason(r)).toBe(r);
    }
    for (const r of ['', 'Referral', 'referral ', 'Transfer of care', 'Follow-up after transfer (cardiology)', 'a'.repeat(141), 'line1\nline2', 42]) bad(() => v.reason(r));
  });

  test('envelope: base64 of 32-1024 bytes', () => {
    expect(v.envelope(Buffer.alloc(125, 1).toString('base64'), 'e')).toBeTruthy();
    bad(() => v.envelope('not base64!', 'e'));
    bad(() => v.envelope(Buffer.alloc(8).toString('base64'), 'e'));
    bad(() => v.envelope(Buffer.alloc(2048).toString('base64'), 'e'));
  });

  test('JSON arguments are size-limited', () => {
    bad(() => v.json('x', `"${'a'.repeat(20000)}"`));
  });
});
