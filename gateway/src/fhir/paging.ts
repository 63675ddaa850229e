/*
 * Paging of FHIR searches, with the REST lists' rules in FHIR's words: `_count` is bounded
 * by the same configuration as `?limit=` (server.lists), and the next page is named by an
 * opaque `_cursor` in Bundle.link `next`, as the REST lists name theirs in `Link`.
 *
 * A cursor holds the sort key of the last entry shown, never an offset: the searches list
 * newest first, so a record stored while a client pages would shift every offset by one
 * and show an entry twice. After a key, a page starts where the previous one ended
 * whatever was added or removed meanwhile (as the chaincode pages its audit trails).
 *
 * Like the REST cursors it is not signed: every page is computed afresh from what the
 * caller may see, so a forged cursor can only skip entries, never show another one.
 */
import type { BundleLink } from 'fhir/r4.js';
import { createHash } from 'node:crypto';
import type { PageLimits } from '../api/pagination.js';
import { BadRequestError } from '../http/problem.js';

/** The parameters that page a search rather than choose what it matches. */
const PAGING_PARAMS = ['_count', '_cursor', '_format'];
const MAX_CURSOR_CHARS = 2048;

/** Where a search's order puts an entry: compared element by element, each in its own direction. */
export type SortKey = string[];
export type Direction = 'asc' | 'desc';

export interface SearchPaging {
    count: number;
    /** The key of the last entry of the previous page; undefined on the first page. */
    after?: SortKey;
    /** This page's absolute URL: the search's own parameters, _count and _cursor. */
    selfUrl: URL;
    /** What a cursor must have been issued for: the resource type and the search's parameters. */
    search: string;
}

/**
 * The paging of one search request. `params` are the parameters the search applies (unknown
 * ones already dropped); `url` is the endpoint's absolute URL of the resource type.
 */
export function searchPaging(url: string, resourceType: string, params: Map<string, string[]>, limits: PageLimits): SearchPaging {
    const one = (name: string) => {
        const values = params.get(name);
        if (values && values.length > 1) throw new BadRequestError(`${name} may be given once`, [{ field: `query.${name}`, message: 'repeated' }]);
        return values?.[0];
    };
    const countParam = one('_count');
    if (countParam !== undefined && !(/^\d{1,9}$/.test(countParam) && Number(countParam) >= 1 && Number(countParam) <= limits.maxLimit)) {
        throw new BadRequestError(`_count must be an integer from 1 to ${limits.maxLimit}`, [{ field: 'query._count', message: `1..${limits.maxLimit}` }]);
    }
    const count = countParam === undefined ? limits.defaultLimit : Number(countParam);
    const search = searchFingerprint(resourceType, params);
    const cursor = one('_cursor');
    const after = cursor === undefined ? undefined : decodeCursor(cursor, search);
    const selfUrl = new URL(url);
    for (const [name, values] of params) if (name !== '_count') for (const v of values) selfUrl.searchParams.append(name, v);
    selfUrl.searchParams.set('_count', String(count));
    return { count, ...(after ? { after } : {}), selfUrl, search };
}

/** The search's own parameters, whatever their order in the URL: a cursor is good for that search only. */
function searchFingerprint(resourceType: string, params: Map<string, string[]>): string {
    const own = [...params]
        .filter(([name]) => !PAGING_PARAMS.includes(name))
        .map(([name, values]) => [name, [...values].sort()] as const)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return createHash('sha256').update(JSON.stringify([resourceType, own])).digest('base64url').slice(0, 22);
}

export function encodeCursor(search: string, key: SortKey): string {
    return Buffer.from(JSON.stringify([1, search, key]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, search: string): SortKey {
    let parsed: unknown;
    if (cursor.length <= MAX_CURSOR_CHARS && /^[A-Za-z0-9_-]+$/.test(cursor)) {
        try {
            parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
        } catch {
            parsed = undefined;
        }
    }
    const fields = Array.isArray(parsed) ? (parsed as unknown[]) : [];
    const [version, of, key] = fields;
    if (fields.length !== 3 || version !== 1 || !Array.isArray(key) || !key.length || !key.every((k) => typeof k === 'string')) {
        throw new BadRequestError('_cursor is not a cursor this endpoint issued: follow the Bundle.link with relation next', [{ field: 'query._cursor', message: 'not issued here' }]);
    }
    if (of !== search) {
        throw new BadRequestError('_cursor belongs to another search: keep the search parameters of the page it came from', [{ field: 'query._cursor', message: 'belongs to another search' }]);
    }
    return key as SortKey;
}

function compareKeys(a: SortKey, b: SortKey, directions: readonly Direction[]): number {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
        const x = a[i] ?? '';
        const y = b[i] ?? '';
        if (x === y) continue;
        const ascending = x < y ? -1 : 1;
        return directions[i] === 'desc' ? -ascending : ascending;
    }
    return 0;
}

export interface SearchResult<T> {
    /** The entries of this page, in the search's order. */
    page: T[];
    /** Every entry the search matches now (pages are cut from this count, so it is the real total). */
    total: number;
    /** self, and next unless this is the last page. */
    links: BundleLink[];
}

/**
 * The page of `entries` after the paging's cursor, in the order of their keys (`directions`
 * per key element). Keys must be unique: ties would make "after" ambiguous.
 */
export function pageAfter<T>(entries: { item: T; key: SortKey }[], directions: readonly Direction[], paging: SearchPaging): SearchResult<T> {
    const ordered = [...entries].sort((a, b) => compareKeys(a.key, b.key, directions));
    const rest = paging.after ? ordered.filter((e) => compareKeys(e.key, paging.after!, directions) > 0) : ordered;
    const shown = rest.slice(0, paging.count);
    const links: BundleLink[] = [{ relation: 'self', url: paging.selfUrl.toString() }];
    if (rest.length > shown.length) {
        const next = new URL(paging.selfUrl);
        next.searchParams.set('_cursor', encodeCursor(paging.search, shown[shown.length - 1].key));
        links.push({ relation: 'next', url: next.toString() });
    }
    return { page: shown.map((e) => e.item), total: ordered.length, links };
}

/** Ties of an ordered list's first key element, numbered in list order, as a key's last element. */
export function withTieRanks<T>(ordered: T[], first: (item: T) => string): { item: T; key: SortKey }[] {
    let rank = 0;
    return ordered.map((item, i) => {
        rank = i > 0 && first(ordered[i - 1]) === first(item) ? rank + 1 : 0;
        return { item, key: [first(item), String(rank).padStart(6, '0')] };
    });
}
