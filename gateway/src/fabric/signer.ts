import { sign, type KeyObject } from 'node:crypto';
import type { Signer } from '@hyperledger/fabric-gateway';

// The order n of P-256: Fabric accepts only signatures with s <= n/2 ("low S").
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HALF_ORDER = P256_ORDER >> 1n;

/**
 * A signer for the Fabric Gateway client that signs with Node's native ECDSA (OpenSSL)
 * rather than fabric-gateway's pure-JavaScript one (@noble/curves), which cost about a
 * quarter of the gateway's CPU under load. It hashes the message itself (SHA-256), so
 * the connection must pass whole messages: `hash: hash.none`.
 */
export function newNativeSigner(privateKey: KeyObject): Signer {
    if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new TypeError(`the native signer supports P-256 EC keys only, not ${privateKey.asymmetricKeyType ?? 'this key'}`);
    }
    return async (message: Uint8Array): Promise<Uint8Array> => {
        const raw = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        return derSignature(BigInt(`0x${raw.subarray(0, 32).toString('hex')}`), lowS(BigInt(`0x${raw.subarray(32).toString('hex')}`)));
    };
}

/** s or n - s, whichever is at most n/2: the same signature, in the form Fabric accepts. */
export function lowS(s: bigint): bigint {
    return s > HALF_ORDER ? P256_ORDER - s : s;
}

/** ASN.1 DER of ECDSA-Sig-Value: SEQUENCE { r INTEGER, s INTEGER }, minimal encodings. */
export function derSignature(r: bigint, s: bigint): Uint8Array {
    const body = Buffer.concat([derInteger(r), derInteger(s)]);
    // Two INTEGERs of at most 33 bytes each: the length always fits one byte.
    return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

function derInteger(v: bigint): Buffer {
    let hex = v.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    let bytes = Buffer.from(hex, 'hex');
    // A set top bit would read as negative: prefix a zero byte.
    if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}
