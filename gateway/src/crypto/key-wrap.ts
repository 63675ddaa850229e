/*
 * ECIES key wrap of a document's data key to one hospital's P-256 encryption key.
 *
 *   envelope = base64( version 0x01 | ephemeral public key, uncompressed (65) | nonce (12) | ciphertext (32) | tag (16) )
 *   kek      = HKDF-SHA256(ECDH(ephemeral, recipient), salt = ephemeral public key | recipient public key, info = "ehr-key-wrap/v1")
 *   aad      = "ehr-key-wrap/v1" | u16 len | recordId | u16 len | mspId
 *
 * Binding recordId and mspId as associated data stops an envelope being replayed onto
 * another record or presented as another hospital's; both public keys in the salt bind the
 * derived key to this exchange.
 */
import {
    createCipheriv,
    createDecipheriv,
    createECDH,
    createPrivateKey,
    createPublicKey,
    diffieHellman,
    generateKeyPairSync,
    hkdfSync,
    randomBytes,
    type KeyObject,
} from 'node:crypto';
import { DATA_KEY_LENGTH } from './blob-format.js';
import { DecryptionError } from './errors.js';

const VERSION = 1;
const POINT_LENGTH = 65;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
const INFO = 'ehr-key-wrap/v1';
const ENVELOPE_LENGTH = 1 + POINT_LENGTH + NONCE_LENGTH + DATA_KEY_LENGTH + TAG_LENGTH;

/** Who the wrapped key is for: the record it opens and the hospital that may open it. */
export interface WrapContext {
    recordId: string;
    mspId: string;
}

export function wrapKey(dataKey: Uint8Array, recipientPublicKeyPem: string | KeyObject, context: WrapContext): string {
    return wrapKeys([{ dataKey, context }], recipientPublicKeyPem)[0];
}

/**
 * Wraps many data keys to one recipient with one ephemeral key (a batch delivery): one
 * key agreement instead of one per record. Each envelope still has its own nonce and
 * its own record and hospital in the associated data, so none can stand in for another;
 * the format is unchanged, and unwrapKey opens each envelope on its own.
 */
export function wrapKeys(keys: readonly { dataKey: Uint8Array; context: WrapContext }[], recipientPublicKeyPem: string | KeyObject): string[] {
    for (const { dataKey } of keys) if (dataKey.length !== DATA_KEY_LENGTH) throw new RangeError(`data key must be ${DATA_KEY_LENGTH} bytes`);
    if (keys.length === 0) return [];
    const recipientPoint = rawPoint(toPublicKey(recipientPublicKeyPem));
    // The ephemeral key is a bare ECDH key, not a generated KeyObject: on Node 20, exporting
    // a KeyObject from generateKeyPairSync while the garbage collector finalises that
    // generation job deadlocks the process (seen: a gateway frozen in ExportJWK under load).
    const ephemeral = createECDH('prime256v1');
    const ephemeralPoint = ephemeral.generateKeys();
    const kek = deriveKek(ephemeral.computeSecret(recipientPoint), ephemeralPoint, recipientPoint);
    try {
        return keys.map(({ dataKey, context }) => {
            const nonce = randomBytes(NONCE_LENGTH);
            const cipher = createCipheriv('aes-256-gcm', kek, nonce);
            cipher.setAAD(associatedData(context));
            const ciphertext = Buffer.concat([cipher.update(dataKey), cipher.final()]);
            return Buffer.concat([Buffer.of(VERSION), ephemeralPoint, nonce, ciphertext, cipher.getAuthTag()]).toString('base64');
        });
    } finally {
        kek.fill(0);
    }
}

export function unwrapKey(envelope: string, privateKeyPem: string | KeyObject, context: WrapContext): Buffer {
    const bytes = Buffer.from(envelope, 'base64');
    if (bytes.length !== ENVELOPE_LENGTH || bytes[0] !== VERSION) throw new DecryptionError('malformed key envelope');
    const privateKey = typeof privateKeyPem === 'string' ? createPrivateKey(privateKeyPem) : privateKeyPem;
    let offset = 1;
    const ephemeralPoint = bytes.subarray(offset, (offset += POINT_LENGTH));
    const nonce = bytes.subarray(offset, (offset += NONCE_LENGTH));
    const ciphertext = bytes.subarray(offset, (offset += DATA_KEY_LENGTH));
    const tag = bytes.subarray(offset);
    try {
        const ephemeral = pointToPublicKey(ephemeralPoint);
        const kek = deriveKek(diffieHellman({ privateKey, publicKey: ephemeral }), ephemeralPoint, ownPoint(privateKey));
        const decipher = createDecipheriv('aes-256-gcm', kek, nonce);
        decipher.setAAD(associatedData(context));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch (err) {
        throw new DecryptionError('key envelope failed authentication', { cause: err });
    }
}

export interface KeyPairPem {
    /** SPKI PEM: what the hospital registers on the ledger. */
    publicKey: string;
    /** PKCS#8 PEM: the caller writes it with mode 0600 and it never leaves the gateway. */
    privateKey: string;
}

export function generateEncryptionKeyPair(): KeyPairPem {
    const { publicKey, privateKey } = generateKeyPairSync('ec', {
        namedCurve: 'P-256',
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    return { publicKey, privateKey };
}

function toPublicKey(key: string | KeyObject): KeyObject {
    const object = typeof key === 'string' ? createPublicKey(key) : key;
    if (object.asymmetricKeyType !== 'ec' || object.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new TypeError('recipient key must be a P-256 public key');
    }
    return object;
}

/** The uncompressed point of a P-256 public key: the last 65 bytes of its SPKI encoding. */
function rawPoint(key: KeyObject): Buffer {
    const spki = key.export({ type: 'spki', format: 'der' });
    const point = spki.subarray(spki.length - POINT_LENGTH);
    if (point[0] !== 4) throw new TypeError('expected an uncompressed P-256 point');
    return Buffer.from(point);
}

/** A private key's own public point, derived once per key (every unwrap needs it). */
const ownPoints = new WeakMap<KeyObject, Buffer>();
function ownPoint(privateKey: KeyObject): Buffer {
    let point = ownPoints.get(privateKey);
    if (!point) {
        point = rawPoint(createPublicKey(privateKey));
        ownPoints.set(privateKey, point);
    }
    return point;
}

function pointToPublicKey(point: Buffer): KeyObject {
    if (point[0] !== 4) throw new DecryptionError('malformed ephemeral key');
    return createPublicKey({
        key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
        format: 'jwk',
    });
}

function deriveKek(sharedSecret: Buffer, ephemeralPoint: Buffer, recipientPoint: Buffer): Buffer {
    return Buffer.from(hkdfSync('sha256', sharedSecret, Buffer.concat([ephemeralPoint, recipientPoint]), INFO, 32));
}

function associatedData({ recordId, mspId }: WrapContext): Buffer {
    return Buffer.concat([Buffer.from(INFO), lengthPrefixed(recordId), lengthPrefixed(mspId)]);
}

function lengthPrefixed(value: string): Buffer {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > 0xffff) throw new RangeError('associated data field too long');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    return Buffer.concat([length, bytes]);
}
