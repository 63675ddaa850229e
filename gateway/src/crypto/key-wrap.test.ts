import { DecryptionError } from './errors.js';
import { newDataKey } from './data-key.js';
import { generateEncryptionKeyPair, unwrapKey, wrapKey, wrapKeys } from './key-wrap.js';
import { Keyring } from './keyring.js';

describe('wrapKey / unwrapKey', () => {
    const hospital = generateEncryptionKeyPair();
    const context = { recordId: 'rec-1', mspId: 'Hospital1MSP' };
    const dataKey = newDataKey();

    it('round-trips a data key with a compact base64 envelope', () => {
        const envelope = wrapKey(dataKey, hospital.publicKey, context);
        expect(envelope).toMatch(/^[A-Za-z0-9+/]+=*$/);
        expect(Buffer.from(envelope, 'base64')).toHaveLength(1 + 65 + 12 + 32 + 16);
        expect(unwrapKey(envelope, hospital.privateKey, context).equals(dataKey)).toBe(true);
    });

    it('uses a fresh ephemeral key every time', () => {
        expect(wrapKey(dataKey, hospital.publicKey, context)).not.toEqual(wrapKey(dataKey, hospital.publicKey, context));
    });

    it('generates PEM key pairs', () => {
        expect(hospital.publicKey).toContain('BEGIN PUBLIC KEY');
        expect(hospital.privateKey).toContain('BEGIN PRIVATE KEY');
    });

    it.each([
        ['another recordId', { ...context, recordId: 'rec-2' }],
        ['another mspId', { ...context, mspId: 'Hospital2MSP' }],
    ])('fails with %s as associated data', (_name, other) => {
        const envelope = wrapKey(dataKey, hospital.publicKey, context);
        expect(() => unwrapKey(envelope, hospital.privateKey, other)).toThrow(DecryptionError);
    });

    it('fails with another hospital private key', () => {
        const envelope = wrapKey(dataKey, hospital.publicKey, context);
        expect(() => unwrapKey(envelope, generateEncryptionKeyPair().privateKey, context)).toThrow(DecryptionError);
    });

    it('fails on a tampered or malformed envelope', () => {
        const bytes = Buffer.from(wrapKey(dataKey, hospital.publicKey, context), 'base64');
        bytes[bytes.length - 1] ^= 1;
        expect(() => unwrapKey(bytes.toString('base64'), hospital.privateKey, context)).toThrow(DecryptionError);
        expect(() => unwrapKey('AAAA', hospital.privateKey, context)).toThrow(DecryptionError);
    });

    it('refuses a non-P-256 recipient key', () => {
        expect(() => wrapKey(dataKey, '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n', context)).toThrow(TypeError);
    });
});

describe('wrapKeys (a batch to one recipient)', () => {
    const recipient = generateEncryptionKeyPair();
    const other = generateEncryptionKeyPair();
    const batch = Array.from({ length: 5 }, (_, i) => ({ dataKey: newDataKey(), context: { recordId: `rec-${i}`, mspId: 'Hospital3MSP' } }));

    it('makes envelopes that each open on their own, to the same keys', () => {
        const envelopes = wrapKeys(batch, recipient.publicKey);
        expect(envelopes).toHaveLength(5);
        envelopes.forEach((e, i) => expect(unwrapKey(e, recipient.privateKey, batch[i].context).equals(batch[i].dataKey)).toBe(true));
    });

    it('shares one ephemeral key but never a nonce, and no envelope opens for another record, hospital or key', () => {
        const envelopes = wrapKeys(batch, recipient.publicKey).map((e) => Buffer.from(e, 'base64'));
        expect(new Set(envelopes.map((b) => b.subarray(1, 66).toString('hex'))).size).toBe(1);
        expect(new Set(envelopes.map((b) => b.subarray(66, 78).toString('hex'))).size).toBe(5);
        const first = envelopes[0].toString('base64');
        expect(() => unwrapKey(first, recipient.privateKey, batch[1].context)).toThrow(DecryptionError);
        expect(() => unwrapKey(first, recipient.privateKey, { ...batch[0].context, mspId: 'Hospital2MSP' })).toThrow(DecryptionError);
        expect(() => unwrapKey(first, other.privateKey, batch[0].context)).toThrow(DecryptionError);
    });

    it('refuses a batch with a key of the wrong length, and wraps nothing for an empty batch', () => {
        expect(() => wrapKeys([...batch, { dataKey: Buffer.alloc(16), context: batch[0].context }], recipient.publicKey)).toThrow(RangeError);
        expect(wrapKeys([], recipient.publicKey)).toEqual([]);
    });
});

describe('Keyring (after a key rotation)', () => {
    const before = generateEncryptionKeyPair();
    const after = generateEncryptionKeyPair();
    const context = { recordId: 'rec-1', mspId: 'Hospital1MSP' };
    const dataKey = newDataKey();

    it('opens an envelope wrapped to an earlier key when that key is kept', () => {
        const old = wrapKey(dataKey, before.publicKey, context);
        expect(new Keyring(after.privateKey, [before.privateKey]).unwrap(old, context).equals(dataKey)).toBe(true);
        expect(new Keyring(after.privateKey, [before.privateKey]).unwrap(wrapKey(dataKey, after.publicKey, context), context).equals(dataKey)).toBe(true);
    });

    it('names the public keys of the earlier keys, which the ledger may still hold', () => {
        expect(new Keyring(after.privateKey, [before.privateKey]).previousPublicKeys()).toEqual([before.publicKey]);
    });

    it('fails with DecryptionError when none of the keys is the one it was wrapped to', () => {
        const old = wrapKey(dataKey, before.publicKey, context);
        expect(() => new Keyring(after.privateKey).unwrap(old, context)).toThrow(DecryptionError);
    });

    it('still binds the record and hospital: the right key with another recordId fails', () => {
        const old = wrapKey(dataKey, before.publicKey, context);
        expect(() => new Keyring(after.privateKey, [before.privateKey]).unwrap(old, { ...context, recordId: 'rec-2' })).toThrow(DecryptionError);
    });
});
