import { createDecipheriv } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
    type BlobHead,
    type BlobMetadata,
    type BlobTrailer,
    LENGTH_PREFIX,
    MAGIC,
    MAX_HEADER_SIZE,
    PREAMBLE_LENGTH,
    PlaintextDigest,
    SEGMENT_SIZE,
    TAG_LENGTH,
    VERSION,
    payloadKey,
    segmentNonce,
} from './blob-format.js';
import { DecryptionError } from './errors.js';
import { z } from 'zod';

const headSchema = z.object({
    title: z.string().optional(),
    fileName: z.string().optional(),
    contentType: z.string().min(1),
});
const trailerSchema = z.object({
    size: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/**
 * Encrypted blob in, plaintext out. Only authenticated plaintext is ever pushed, one
 * segment at a time; a blob that is truncated, reordered, extended or altered makes the
 * stream fail — at the latest when it ends, so consumers must treat an errored stream's
 * output as void. `head` resolves once the first segment is authenticated (before any
 * content), which lets an HTTP response set its Content-Type without buffering.
 */
export class DecryptStream extends Transform {
    readonly head: Promise<BlobHead>;
    readonly #dataKey: Uint8Array;
    #key: Buffer | undefined;
    #aad: Buffer | undefined;
    #chunks: Buffer[] = [];
    #buffered = 0;
    #counter = 0n;
    #digest = new PlaintextDigest();
    #lastContentWasShort = false;
    #head: BlobHead | undefined;
    #trailer: BlobTrailer | undefined;
    #resolveHead!: (head: BlobHead) => void;
    #rejectHead!: (err: Error) => void;

    constructor(dataKey: Uint8Array) {
        super();
        this.#dataKey = dataKey;
        this.head = new Promise<BlobHead>((resolve, reject) => {
            this.#resolveHead = resolve;
            this.#rejectHead = reject;
        });
        // The stream's own 'error' event reports failures; an unobserved head must not crash the process.
        this.head.catch(() => undefined);
    }

    /** Full metadata, available once the stream has ended successfully. */
    get metadata(): BlobMetadata | undefined {
        return this.#head && this.#trailer ? { ...this.#head, ...this.#trailer } : undefined;
    }

    override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
        if (this.#trailer) {
            callback(this.#fail('data after final segment'));
            return;
        }
        this.#chunks.push(chunk);
        this.#buffered += chunk.length;
        try {
            this.#drain();
            callback();
        } catch (err) {
            callback(this.#fail(err));
        }
    }

    override _flush(callback: TransformCallback): void {
        if (!this.#trailer) {
            callback(this.#fail(this.#buffered > 0 || this.#key ? 'truncated blob' : 'empty blob'));
            return;
        }
        callback();
    }

    override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
        this.#rejectHead(err ?? new DecryptionError('stream destroyed'));
        callback(err);
    }

    #drain(): void {
        if (!this.#key) {
            const pre = this.#take(PREAMBLE_LENGTH);
            if (!pre) return;
            if (!pre.subarray(0, MAGIC.length).equals(MAGIC)) throw new DecryptionError('not an encrypted blob');
            if (pre[MAGIC.length] !== VERSION) throw new DecryptionError(`unsupported version ${pre[MAGIC.length]}`);
            this.#aad = pre;
            this.#key = payloadKey(this.#dataKey, pre.subarray(MAGIC.length + 1));
        }
        for (;;) {
            if (this.#trailer) {
                if (this.#buffered > 0) throw new DecryptionError('data after final segment');
                return;
            }
            const lengthBytes = this.#peek(LENGTH_PREFIX);
            if (!lengthBytes) return;
            const length = lengthBytes.readUInt32BE();
            const max = (this.#counter === 0n ? MAX_HEADER_SIZE : Math.max(SEGMENT_SIZE, MAX_HEADER_SIZE)) + TAG_LENGTH;
            if (length < TAG_LENGTH || length > max) throw new DecryptionError('invalid segment length');
            if (this.#buffered < LENGTH_PREFIX + length) return;
            this.#take(LENGTH_PREFIX);
            this.#segment(this.#take(length)!);
        }
    }

    #segment(sealed: Buffer): void {
        const counter = this.#counter++;
        if (counter === 0n) {
            const head = parseJson(this.#open(sealed, counter, false), headSchema, 'head');
            this.#head = head;
            this.#resolveHead(head);
            return;
        }
        const content = this.#tryOpen(sealed, counter, false);
        if (content) {
            if (this.#lastContentWasShort) throw new DecryptionError('non-canonical segment size');
            if (content.length === 0 || content.length > SEGMENT_SIZE) throw new DecryptionError('invalid segment size');
            this.#lastContentWasShort = content.length < SEGMENT_SIZE;
            this.#digest.update(content);
            this.push(content);
            return;
        }
        const trailer = parseJson(this.#open(sealed, counter, true), trailerSchema, 'trailer');
        const actual = this.#digest.digest();
        if (actual.size !== trailer.size || actual.sha256 !== trailer.sha256) {
            throw new DecryptionError('plaintext does not match trailer');
        }
        this.#trailer = trailer;
    }

    #open(sealed: Buffer, counter: bigint, last: boolean): Buffer {
        const plaintext = this.#tryOpen(sealed, counter, last);
        if (!plaintext) throw new DecryptionError(`segment ${counter} failed authentication`);
        return plaintext;
    }

    #tryOpen(sealed: Buffer, counter: bigint, last: boolean): Buffer | undefined {
        const decipher = createDecipheriv('aes-256-gcm', this.#key!, segmentNonce(counter, last));
        decipher.setAAD(this.#aad!);
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
        const body = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
        try {
            return Buffer.concat([body, decipher.final()]);
        } catch {
            return undefined;
        }
    }

    #peek(n: number): Buffer | undefined {
        if (this.#buffered < n) return undefined;
        if (this.#chunks[0].length < n) this.#chunks = [Buffer.concat(this.#chunks)];
        return this.#chunks[0].subarray(0, n);
    }

    #take(n: number): Buffer | undefined {
        const out = this.#peek(n);
        if (!out) return undefined;
        const rest = this.#chunks[0].subarray(n);
        if (rest.length > 0) this.#chunks[0] = rest;
        else this.#chunks.shift();
        this.#buffered -= n;
        return out;
    }

    #fail(err: unknown): Error {
        const error = err instanceof DecryptionError ? err : new DecryptionError(String(err instanceof Error ? err.message : err), { cause: err });
        this.#rejectHead(error);
        return error;
    }
}

function parseJson<T>(bytes: Buffer, schema: z.ZodType<T>, what: string): T {
    let value: unknown;
    try {
        value = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
        throw new DecryptionError(`malformed ${what}`, { cause: err });
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new DecryptionError(`malformed ${what}`, { cause: parsed.error });
    return parsed.data;
}

export function decryptStream(dataKey: Uint8Array): DecryptStream {
    return new DecryptStream(dataKey);
}
