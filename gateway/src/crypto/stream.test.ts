import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LENGTH_PREFIX, PREAMBLE_LENGTH, SEGMENT_SIZE } from './blob-format.js';
import { decryptStream } from './decrypt-stream.js';
import { encryptStream } from './encrypt-stream.js';
import { DecryptionError } from './errors.js';
import { newDataKey } from './data-key.js';

const head = { title: 'MRI report', fileName: 'mri.pdf', contentType: 'application/pdf' };

async function collect(source: Readable | AsyncIterable<Buffer>): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of source) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
}

/** Feeds the input in uneven chunks, as a socket would. */
function chunked(data: Buffer, size = 7_777): Readable {
    const parts: Buffer[] = [];
    for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
    return Readable.from(parts);
}

async function encrypt(key: Buffer, plaintext: Buffer) {
    const encryptor = encryptStream(key, head);
    const out: Buffer[] = [];
    await pipeline(chunked(plaintext), encryptor, async function (source) {
        for await (const chunk of source) out.push(chunk as Buffer);
    });
    return { blob: Buffer.concat(out), trailer: encryptor.trailer! };
}

async function decrypt(key: Buffer, blob: Buffer) {
    const decryptor = decryptStream(key);
    const plaintext = await collect(chunked(blob, 5_000).pipe(decryptor));
    return { plaintext, head: await decryptor.head, metadata: decryptor.metadata };
}

/** Splits a blob into its preamble and length-prefixed segments. */
function segments(blob: Buffer): { preamble: Buffer; segments: Buffer[] } {
    const out: Buffer[] = [];
    let offset = PREAMBLE_LENGTH;
    while (offset < blob.length) {
        const length = blob.readUInt32BE(offset);
        out.push(blob.subarray(offset, offset + LENGTH_PREFIX + length));
        offset += LENGTH_PREFIX + length;
    }
    return { preamble: blob.subarray(0, PREAMBLE_LENGTH), segments: out };
}

describe('encryptStream / decryptStream', () => {
    const key = newDataKey();

    it.each([
        ['empty', 0],
        ['one byte', 1],
        ['exactly one segment', SEGMENT_SIZE],
        ['one segment plus one byte', SEGMENT_SIZE + 1],
        ['several MiB', 5 * 1024 * 1024 + 123],
    ])('round-trips %s', async (_name, size) => {
        const plaintext = randomBytes(size);
        const { blob, trailer } = await encrypt(key, plaintext);
        expect(trailer).toEqual({ size, sha256: createHash('sha256').update(plaintext).digest('hex') });

        const result = await decrypt(key, blob);
        expect(result.plaintext.equals(plaintext)).toBe(true);
        expect(result.head).toEqual(head);
        expect(result.metadata).toEqual({ ...head, ...trailer });
    });

    it('never emits ciphertext that grows beyond bounded overhead', async () => {
        const { blob } = await encrypt(key, randomBytes(3 * SEGMENT_SIZE));
        // preamble + head + 3 content segments + trailer, each with a 4-byte length and a 16-byte tag
        expect(blob.length).toBeLessThan(3 * SEGMENT_SIZE + 400);
    });

    describe('rejects', () => {
        let blob: Buffer;
        beforeAll(async () => {
            ({ blob } = await encrypt(key, randomBytes(3 * SEGMENT_SIZE + 10)));
        });

        async function expectFailure(tampered: Buffer, decryptKey = key): Promise<void> {
            await expect(decrypt(decryptKey, tampered)).rejects.toBeInstanceOf(DecryptionError);
        }

        it('a flipped ciphertext bit', async () => {
            const tampered = Buffer.from(blob);
            tampered[PREAMBLE_LENGTH + 200] ^= 1;
            await expectFailure(tampered);
        });

        it('a flipped bit in the trailer', async () => {
            const tampered = Buffer.from(blob);
            tampered[tampered.length - 20] ^= 1;
            await expectFailure(tampered);
        });

        it('a changed salt', async () => {
            const tampered = Buffer.from(blob);
            tampered[PREAMBLE_LENGTH - 1] ^= 1;
            await expectFailure(tampered);
        });

        it('the wrong key', async () => {
            await expectFailure(blob, newDataKey());
        });

        it('truncation at a segment boundary (trailer dropped)', async () => {
            const { preamble, segments: parts } = segments(blob);
            await expectFailure(Buffer.concat([preamble, ...parts.slice(0, -1)]));
        });

        it('truncation inside a segment', async () => {
            await expectFailure(blob.subarray(0, blob.length - 5));
        });

        it('truncation to the preamble alone', async () => {
            await expectFailure(blob.subarray(0, PREAMBLE_LENGTH));
        });

        it('an empty input', async () => {
            await expectFailure(Buffer.alloc(0));
        });

        it('reordered segments', async () => {
            const { preamble, segments: parts } = segments(blob);
            const [h, a, b, ...rest] = parts;
            await expectFailure(Buffer.concat([preamble, h, b, a, ...rest]));
        });

        it('a dropped middle segment', async () => {
            const { preamble, segments: parts } = segments(blob);
            await expectFailure(Buffer.concat([preamble, parts[0], ...parts.slice(2)]));
        });

        it('appended bytes', async () => {
            await expectFailure(Buffer.concat([blob, Buffer.from([0])]));
        });

        it('an appended copy of a segment', async () => {
            const { segments: parts } = segments(blob);
            await expectFailure(Buffer.concat([blob, parts[1]]));
        });

        it('a blob of another format', async () => {
            await expectFailure(Buffer.from('%PDF-1.7 definitely not encrypted, but long enough to parse'));
        });
    });
});
