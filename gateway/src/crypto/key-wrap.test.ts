import { DecryptionError } from './errors.js';
import { newDataKey } from './data-key.js';
import { generateEncryptionKeyPair, unwrapKey, wrapKey } from './key-wrap.js';
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
