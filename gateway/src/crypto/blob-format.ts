/*
 * Encrypted blob format, version 1.
 *
 *   preamble  = magic "EHRB" (4) | version 0x01 (1) | salt (16)
 *   segment   = length (u32 big-endian, ciphertext bytes incl. tag) | AES-256-GCM ciphertext | tag (16)
 *   blob      = preamble | head segment | content segment* | trailer segment
 *
 * The payload key is HKDF-SHA256(dataKey, salt, "ehr-blob/v1"), so a data key that were ever
 * reused would still never repeat a (key, nonce) pair. Each segment's 96-bit nonce is an
 * 88-bit big-endian counter followed by a last-segment flag byte (age's STREAM): the
 * counter defeats reordering, dropping and duplication; the flag, set only on the trailer,
 * defeats truncation at a segment boundary; bytes after the flagged segment are rejected,
 * which defeats appending. The preamble is the associated data of every segment, binding
 * magic, version and salt.
 *
 * Why a head AND a trailer: the reader needs the content type before the first content byte
 * (to answer HTTP with it), while the writer only knows size and SHA-256 after the last one.
 * So the head (segment 0) carries what is known up front (title, file name, content type)
 * and the trailer (the final, flagged segment) carries size and SHA-256, which the decryptor
 * checks against what it produced before it ends the stream. Both stream in bounded memory.
 *
 * Content segments hold exactly SEGMENT_SIZE plaintext bytes except the last one (1..SEGMENT_SIZE);
 * an empty document has no content segments. The decryptor enforces this canonical form.
 */
import { createHash, hkdfSync, type Hash } from 'node:crypto';

export const MAGIC = Buffer.from('EHRB', 'ascii');
export const VERSION = 1;
export const SALT_LENGTH = 16;
export const PREAMBLE_LENGTH = MAGIC.length + 1 + SALT_LENGTH;
export const SEGMENT_SIZE = 64 * 1024;
export const TAG_LENGTH = 16;
export const NONCE_LENGTH = 12;
export const LENGTH_PREFIX = 4;
export const DATA_KEY_LENGTH = 32;
/** Upper bound for the head and trailer segments' plaintext: they are small JSON documents. */
export const MAX_HEADER_SIZE = 16 * 1024;
const COUNTER_LIMIT = 2n ** 88n;

export type SegmentKind = 'head' | 'content' | 'trailer';

/** What the writer knows before the first content byte. */
export interface BlobHead {
    title?: string;
    fileName?: string;
    contentType: string;
}

/** What the writer only knows after the last content byte. */
export interface BlobTrailer {
    size: number;
    /** Hex SHA-256 of the plaintext. */
    sha256: string;
}

export type BlobMetadata = BlobHead & BlobTrailer;

export function preamble(salt: Buffer): Buffer {
    return Buffer.concat([MAGIC, Buffer.of(VERSION), salt]);
}

export function payloadKey(dataKey: Uint8Array, salt: Buffer): Buffer {
    if (dataKey.length !== DATA_KEY_LENGTH) {
        throw new RangeError(`data key must be ${DATA_KEY_LENGTH} bytes`);
    }
    return Buffer.from(hkdfSync('sha256', dataKey, salt, 'ehr-blob/v1', DATA_KEY_LENGTH));
}

export function segmentNonce(counter: bigint, last: boolean): Buffer {
    if (counter >= COUNTER_LIMIT) {
        throw new RangeError('segment counter overflow');
    }
    const nonce = Buffer.alloc(NONCE_LENGTH);
    let value = counter;
    for (let i = NONCE_LENGTH - 2; i >= 0; i--) {
        nonce[i] = Number(value & 0xffn);
        value >>= 8n;
    }
    nonce[NONCE_LENGTH - 1] = last ? 1 : 0;
    return nonce;
}

/** Counts and hashes plaintext as it passes, so the trailer needs no second pass. */
export class PlaintextDigest {
    #hash: Hash = createHash('sha256');
    #size = 0;

    update(chunk: Uint8Array): void {
        this.#hash.update(chunk);
        this.#size += chunk.length;
    }

    digest(): BlobTrailer {
        return { size: this.#size, sha256: this.#hash.digest('hex') };
    }
}
