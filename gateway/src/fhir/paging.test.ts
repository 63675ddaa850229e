import { BadRequestError } from '../http/problem.js';
import { encodeCursor, pageAfter, searchPaging, withTieRanks, type Direction, type SearchPaging, type SortKey } from './paging.js';

const LIMITS = { defaultLimit: 50, maxLimit: 200 };
const URL_OF = 'https://h1.example/fhir/R4/DocumentReference';
const params = (entries: Record<string, string | string[]>) => new Map(Object.entries(entries).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
const paging = (entries: Record<string, string | string[]>) => searchPaging(URL_OF, 'DocumentReference', params(entries), LIMITS);

function refused(fn: () => unknown, field: string): void {
    let error: unknown;
    try {
        fn();
    } catch (e) {
        error = e;
    }
    expect(error).toBeInstanceOf(BadRequestError);
    expect(JSON.stringify(error)).toContain(field);
}

/** Follows next links from the first page to the last, as a client does. */
function follow<T>(entries: { item: T; key: SortKey }[], directions: Direction[], count: number, between?: (page: number) => void): { pages: T[][]; totals: number[] } {
    const pages: T[][] = [];
    const totals: number[] = [];
    let p: SearchPaging = paging({ patient: 'p', _count: String(count) });
    for (;;) {
        const result = pageAfter(entries, directions, p);
        pages.push(result.page);
        totals.push(result.total);
        const next = result.links.find((l) => l.relation === 'next');
        if (!next) return { pages, totals };
        between?.(pages.length);
        const url = new URL(next.url);
        p = searchPaging(URL_OF, 'DocumentReference', params(Object.fromEntries([...url.searchParams.keys()].map((k) => [k, url.searchParams.getAll(k)]))), LIMITS);
    }
}

describe('FHIR search paging', () => {
    test('_count: the REST lists\' default and bounds; anything else is refused', () => {
        expect(paging({ patient: 'p' }).count).toBe(50);
        expect(paging({ patient: 'p', _count: '1' }).count).toBe(1);
        expect(paging({ patient: 'p', _count: '200' }).count).toBe(200);
        for (const bad of ['0', '201', '-1', '1.5', 'ten', '', '9999999999']) refused(() => paging({ patient: 'p', _count: bad }), 'query._count');
        refused(() => paging({ patient: 'p', _count: ['5', '6'] }), 'query._count');
        // Bounds come from the configuration (server.lists), as for REST.
        const configured = { defaultLimit: 10, maxLimit: 20 };
        expect(searchPaging(URL_OF, 'DocumentReference', params({}), configured).count).toBe(10);
        refused(() => searchPaging(URL_OF, 'DocumentReference', params({ _count: '21' }), configured), 'query._count');
    });

    test('pages follow each other by next until the last, each entry exactly once, in the search\'s order', () => {
        const entries = Array.from({ length: 23 }, (_, i) => ({ item: i, key: [`2026-01-${String((i % 9) + 1).padStart(2, '0')}`, `id-${String(i).padStart(2, '0')}`] }));
        const { pages, totals } = follow(entries, ['desc', 'asc'], 5);
        expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 3]);
        const seen = pages.flat();
        expect(new Set(seen).size).toBe(23);
        const expected = [...entries].sort((a, b) => (a.key[0] === b.key[0] ? (a.key[1] < b.key[1] ? -1 : 1) : a.key[0] < b.key[0] ? 1 : -1)).map((e) => e.item);
        expect(seen).toEqual(expected);
        expect(totals).toEqual([23, 23, 23, 23, 23]);
    });

    test('an entry added newest-first while a client pages shows neither twice nor shifts what follows (an offset would)', () => {
        const entries = Array.from({ length: 6 }, (_, i) => ({ item: `r${i}`, key: [`2026-01-0${i + 1}`, `r${i}`] }));
        const { pages, totals } = follow(entries, ['desc', 'asc'], 2, () => entries.push({ item: `new${entries.length}`, key: [`2026-02-0${entries.length}`, `new${entries.length}`] }));
        expect(pages.flat()).toEqual(['r5', 'r4', 'r3', 'r2', 'r1', 'r0']);
        // total is what the search matches when each page is made: it grows with the ledger.
        expect(totals).toEqual([6, 7, 8]);
    });

    test('an exact fit has no next link; self and next are absolute and keep the search', () => {
        const entries = [1, 2, 3, 4].map((i) => ({ item: i, key: [String(i)] }));
        const whole = pageAfter(entries, ['asc'], paging({ patient: 'p', category: 'lab', _count: '4' }));
        expect(whole.links.map((l) => l.relation)).toEqual(['self']);
        const first = pageAfter(entries, ['asc'], paging({ patient: 'p', category: 'lab', _count: '3' }));
        const [self, next] = first.links;
        expect(self).toEqual({ relation: 'self', url: `${URL_OF}?patient=p&category=lab&_count=3` });
        expect(next.relation).toBe('next');
        const url = new URL(next.url);
        expect(`${url.origin}${url.pathname}`).toBe(URL_OF);
        expect(url.searchParams.get('category')).toBe('lab');
        expect(url.searchParams.get('_count')).toBe('3');
        expect(url.searchParams.get('_cursor')).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(pageAfter([], ['asc'], paging({ patient: 'p' }))).toEqual({ page: [], total: 0, links: [{ relation: 'self', url: `${URL_OF}?patient=p&_count=50` }] });
    });

    test('a cursor is good for its own search only, whatever the order of the parameters or the page size', () => {
        const issued = new URL(pageAfter([1, 2].map((i) => ({ item: i, key: [String(i)] })), ['asc'], paging({ patient: 'p', category: ['lab', 'note'], _count: '1' })).links[1].url).searchParams.get('_cursor')!;
        expect(paging({ category: ['note', 'lab'], patient: 'p', _count: '7', _cursor: issued }).after).toEqual(['1']);
        refused(() => paging({ patient: 'p', category: 'lab', _cursor: issued }), 'query._cursor');
        refused(() => paging({ patient: 'q', category: ['lab', 'note'], _cursor: issued }), 'query._cursor');
        refused(() => searchPaging(URL_OF, 'Consent', params({ patient: 'p', category: ['lab', 'note'], _cursor: issued }), LIMITS), 'query._cursor');
        for (const bad of ['', 'not json', Buffer.from('[1,"x"]').toString('base64url'), encodeCursor('x', []), '!!!', 'A'.repeat(3000)]) {
            refused(() => paging({ patient: 'p', _cursor: bad }), 'query._cursor');
        }
    });

    test('ties of the order are told apart by their place in the list, which later entries do not change', () => {
        const events = ['t1', 't1', 't2', 't3', 't3', 't3'];
        const ranked = withTieRanks(events, (e) => e);
        expect(ranked.map((r) => r.key)).toEqual([['t1', '000000'], ['t1', '000001'], ['t2', '000000'], ['t3', '000000'], ['t3', '000001'], ['t3', '000002']]);
        const later = withTieRanks([...events, 't3', 't4'], (e) => e);
        expect(later.slice(0, events.length)).toEqual(ranked);
    });
});
