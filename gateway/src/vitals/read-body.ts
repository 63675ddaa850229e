import type { Request, Response } from 'express';
import { essence } from '../api/media.js';
import { TooLarge } from '../domain-errors.js';
import { UnsupportedMediaTypeError } from '../http/problem.js';
import { NDJSON } from './samples.js';

/** Bytes beyond the limit read and dropped so the client gets its 413 (a client cannot read a reply to a body it is still sending). */
const DRAIN_FACTOR = 4;

/**
 * The NDJSON body of a vitals post, whole, in at most maxBytes of memory. A body over the limit
 * is read to its end and dropped, so the client reads the 413; one over DRAIN_FACTOR times the
 * limit (declared or sent) is cut off at once (Connection: close). Nothing is written before the
 * whole body is here and valid.
 */
export async function readNdjsonBody(req: Request, res: Response, maxBytes: number): Promise<Buffer> {
    if (essence(req.get('content-type')) !== NDJSON) {
        throw new UnsupportedMediaTypeError(`vital-sign samples are posted as ${NDJSON} (one JSON sample a line). Nothing was written.`, { accepted: [NDJSON] });
    }
    const cutOff = maxBytes * DRAIN_FACTOR;
    if (Number(req.get('content-length') ?? 0) > cutOff) {
        res.setHeader('Connection', 'close');
        throw new TooLarge(maxBytes);
    }
    const parts: Buffer[] = [];
    let size = 0;
    for await (const part of req) {
        size += (part as Buffer).length;
        if (size > cutOff) {
            res.setHeader('Connection', 'close');
            throw new TooLarge(maxBytes);
        }
        if (size <= maxBytes) parts.push(part as Buffer);
    }
    if (size > maxBytes) throw new TooLarge(maxBytes);
    return Buffer.concat(parts);
}
