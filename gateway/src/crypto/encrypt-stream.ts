import { createCipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
    type BlobHead,
    type BlobTrailer,
    LENGTH_PREFIX,
    MAX_HEADER_SIZE,
    PlaintextDigest,
    SALT_LENGTH,
    SEGMENT_SIZE,
    payloadKey,
    preamble,
    segmentNonce,
} from './blob-format.js';

/**
 * Plaintext in, encrypted blob out (format in blob-format.ts). Holds at most one segment of
 * plaintext, whatever the document size. After the stream ends, `trailer` holds the plaintext
 * size and SHA-256 that were sealed into the blob.
 */
export class EncryptStream extends Transform {
    readonly #key: Buffer;
    readonly #aad: Buffer;
    readonly #digest = new PlaintextDigest();
    readonly #pending = Buffer.alloc(SEGMENT_SIZE);
    #pendingLength = 0;
    #counter = 0n;
    #trailer: BlobTrailer | undefined;

    constructor(dataKey: Uint8Array, head: BlobHead) {
        super();
        const salt = randomBytes(SALT_LENGTH);
        this.#key = payloadKey(dataKey, salt);
        this.#aad = preamble(salt);
        const headBytes = Buffer.from(JSON.stringify(head), 'utf8');
        if (headBytes.length > MAX_HEADER_SIZE) {
            throw new RangeError('blob head too large');
        }
        this.push(this.#aad);
        this.#seal(headBytes, false);
    }

    /** Plaintext size and SHA-256, available once the stream has ended. */
    get trailer(): BlobTrailer | undefined {
        return this.#trailer;
    }

    override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
        try {
            this.#digest.update(chunk);
            let offset = 0;
            while (offset < chunk.length) {
                const n = Math.min(SEGMENT_SIZE - this.#pendingLength, chunk.length - offset);
                chunk.copy(this.#pending, this.#pendingLength, offset, offset + n);
                this.#pendingLength += n;
                offset += n;
                if (this.#pendingLength === SEGMENT_SIZE) {
                    this.#seal(this.#pending, false);
                    this.#pendingLength = 0;
                }
            }
            callback();
        } catch (err) {
            callback(err as Error);
        }
    }

    override _flush(callback: TransformCallback): void {
        try {
            if (this.#pendingLength > 0) {
                this.#seal(this.#pending.subarray(0, this.#pendingLength), false);
                this.#pendingLength = 0;
            }
            const trailer = this.#digest.digest();
            this.#seal(Buffer.from(JSON.stringify(trailer), 'utf8'), true);
            this.#trailer = trailer;
            callback();
        } catch (err) {
            callback(err as Error);
        }
    }

    #seal(plaintext: Buffer, last: boolean): void {
        const cipher = createCipheriv('aes-256-gcm', this.#key, segmentNonce(this.#counter++, last));
        cipher.setAAD(this.#aad);
        const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
        const length = Buffer.alloc(LENGTH_PREFIX);
        length.writeUInt32BE(body.length);
        this.push(Buffer.concat([length, body]));
    }
}

export function encryptStream(dataKey: Uint8Array, head: BlobHead): EncryptStream {
    return new EncryptStream(dataKey, head);
}
