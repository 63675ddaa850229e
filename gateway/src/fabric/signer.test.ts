import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { signers } from '@hyperledger/fabric-gateway';
import { derSignature, lowS, newNativeSigner } from './signer.js';

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** r and s back out of a DER ECDSA signature. */
function parseDer(sig: Uint8Array): { r: bigint; s: bigint } {
    const b = Buffer.from(sig);
    expect(b[0]).toBe(0x30);
    expect(b[1]).toBe(b.length - 2);
    const rLen = b[3];
    const r = BigInt(`0x${b.subarray(4, 4 + rLen).toString('hex')}`);
    const sLen = b[5 + rLen];
    const s = BigInt(`0x${b.subarray(6 + rLen, 6 + rLen + sLen).toString('hex')}`);
    return { r, s };
}

describe('native ECDSA signer', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

    test('signatures verify against the message, in DER, always low-S', async () => {
        const sign = newNativeSigner(privateKey);
        for (let i = 0; i < 200; i++) {
            const message = Buffer.from(`proposal ${i}`);
            const sig = await sign(message);
            expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'der' }, sig)).toBe(true);
            expect(parseDer(sig).s <= N >> 1n).toBe(true);
        }
    });

    test('signs what fabric-gateway\'s own signer signs: the SHA-256 of the message (its signer gets the digest)', async () => {
        const message = Buffer.from('the same proposal bytes');
        const native = await newNativeSigner(privateKey)(message);
        const theirs = await signers.newPrivateKeySigner(privateKey)(createHash('sha256').update(message).digest());
        // ECDSA is randomised: both verify as signatures of the same message, both low-S.
        for (const sig of [native, theirs]) {
            expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'der' }, sig)).toBe(true);
            expect(parseDer(sig).s <= N >> 1n).toBe(true);
        }
    });

    test('lowS maps a high s to n - s and keeps a low one', () => {
        expect(lowS(N - 1n)).toBe(1n);
        expect(lowS(5n)).toBe(5n);
        expect(lowS(N >> 1n)).toBe(N >> 1n);
        expect(lowS((N >> 1n) + 1n)).toBe(N - ((N >> 1n) + 1n));
    });

    test('DER integers are minimal and never negative', () => {
        const sig = Buffer.from(derSignature(0x80n, 0x7fn));
        expect(sig.toString('hex')).toBe('3007020200800201' + '7f');
        expect(parseDer(derSignature(2n ** 255n, 1n))).toEqual({ r: 2n ** 255n, s: 1n });
    });

    test('refuses a key that is not P-256', () => {
        const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
        expect(() => newNativeSigner(rsa)).toThrow(/P-256/);
    });
});
