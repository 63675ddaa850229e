/*
 * Paginated lists (DESIGN §9): `?limit=&cursor=` in, a JSON array of one page out, and the
 * next page's address in a `Link: <...>; rel="next"` header (RFC 8288) when there is one.
 * The body stays the array it always was, so existing clients keep working and read the
 * first page; clients that want everything follow rel="next" until it is absent.
 *
 * The cursor is opaque to clients: base64url of the list it belongs to, its subject and the
 * chaincode's position. It is not signed: the chaincode refuses a position outside the
 * patient's index and judges need-to-know on every item, so a forged cursor (or a modified
 * gateway) can only skip items the caller could see anyway.
 */
import { BadRequestError } from '../http/problem.js';
import type { ListKind, PageRequest } from '../ports.js';
import { z } from './zod.js';

/** The chaincode's bound on a page (chaincode/src/pages.ts MAX_PAGE): no configuration goes above it. */
export const MAX_PAGE_LIMIT = 200;
const MAX_CURSOR_CHARS = 2048;

export interface PageLimits {
    /** Page size when the request names none. */
    defaultLimit: number;
    /** Largest page size a request may ask for (at most MAX_PAGE_LIMIT). */
    maxLimit: number;
}

export const ListQuery = z.object({
    limit: z.coerce
        .number()
        .int()
        .min(1)
        .max(MAX_PAGE_LIMIT)
        .optional()
        .openapi({ description: `Items per page: 1 to the configured maximum (default 50, maximum ${MAX_PAGE_LIMIT})`, example: 50 }),
    cursor: z
        .string()
        .min(1)
        .max(MAX_CURSOR_CHARS)
        .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor from a previous page')
        .optional()
        .openapi({ description: 'Opaque: the `cursor` of the `Link: <...>; rel="next"` header of the previous page' }),
});
export type ListQueryInput = z.output<typeof ListQuery>;

export const NEXT_LINK_HEADER = {
    Link: {
        description: 'RFC 8288 `<...>; rel="next"`: the next page (same limit), absent on the last page',
        schema: { type: 'string' as const },
    },
};

export function pageRequest(query: ListQueryInput, limits: PageLimits, kind: ListKind, subject: string): PageRequest {
    const limit = query.limit ?? limits.defaultLimit;
    if (limit > limits.maxLimit) {
        throw new BadRequestError('invalid query', [{ field: 'query.limit', message: `must be at most ${limits.maxLimit}` }]);
    }
    return { limit, after: query.cursor === undefined ? '' : decodeCursor(query.cursor, kind, subject) };
}

export function encodeCursor(kind: ListKind, subject: string, after: string): string {
    return Buffer.from(JSON.stringify([1, kind, subject, after]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, kind: ListKind, subject: string): string {
    let parsed: unknown;
    try {
        parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    } catch {
        parsed = undefined;
    }
    const fields = Array.isArray(parsed) ? (parsed as unknown[]) : [];
    const [version, list, of, after] = fields;
    if (fields.length !== 4 || version !== 1 || typeof after !== 'string' || after === '') {
        throw new BadRequestError('invalid query', [{ field: 'query.cursor', message: 'is not a cursor this gateway issued' }]);
    }
    if (list !== kind || of !== subject) throw new BadRequestError('invalid query', [{ field: 'query.cursor', message: 'belongs to another list' }]);
    return after;
}

/** The `Link` header value for the next page, or undefined on the last page. */
export function nextLink(path: string, kind: ListKind, subject: string, page: PageRequest, next: string): string | undefined {
    if (next === '') return undefined;
    const query = new URLSearchParams({ limit: String(page.limit), cursor: encodeCursor(kind, subject, next) });
    return `<${path}?${query.toString()}>; rel="next"`;
}
