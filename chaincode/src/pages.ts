// Paginated lists (DESIGN §9, "lists are paginated"). A page walks one
// patient's composite-key index from a position, in key order, through
// getStateByPartialCompositeKeyWithPagination, and stops as soon as it holds
// one visible item more than asked for: a page costs O(the rows it walks),
// never O(ledger). Need-to-know is judged per item here, so a gateway that
// forges a position can only skip rows, never see one it has no basis for.
import type { Context } from 'fabric-contract-api';
import { invalid } from './errors';
import { getJson, key, rowsOf, type Row } from './state';

/** The chaincode's own bound on a page, whatever a gateway asks for. */
export const MAX_PAGE = 200;
/** Rows fetched from the peer per round trip while walking an index. */
const CHUNK = 64;

export interface Page<T> {
  items: T[];
  /** Where the next page starts (the last item's position), '' when this was the last page. */
  next: string;
}

/** A page size argument: an integer 1..MAX_PAGE. */
export function pageSize(v: unknown): number {
  const n = typeof v === 'string' && /^[1-9][0-9]{0,3}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1 && n <= MAX_PAGE)) throw invalid(`limit must be an integer from 1 to ${MAX_PAGE}`);
  return n;
}

/**
 * A position in the index of (type, attrs): '' (the start) or a key inside that
 * index's range. Fabric starts a paginated scan at the bookmark whatever it is,
 * so a position outside the range would read another patient's rows.
 */
function position(ctx: Context, type: string, attrs: string[], after: unknown): string {
  if (after === '' || after === undefined) return '';
  const prefix = ctx.stub.createCompositeKey(type, attrs);
  if (typeof after !== 'string' || after.length > 1024 || !after.startsWith(prefix) || after === prefix) {
    throw invalid('cursor does not belong to this list');
  }
  return after;
}

/**
 * Walks the index (type, attrs) after the position `after` (exclusive), keeping
 * what pick returns for each row (null: not visible to the caller, skipped),
 * until `limit` items are kept and one more is known to exist, or the index ends.
 */
export async function walkIndex<T>(
  ctx: Context,
  type: string,
  attrs: string[],
  limit: number,
  after: unknown,
  pick: (row: Row) => Promise<T | null>,
): Promise<Page<T>> {
  const from = position(ctx, type, attrs, after);
  // Composite keys end with U+0000 and no attribute holds one, so K + U+0000 is the first key after K.
  let bookmark = from === '' ? '' : `${from}\u0000`;
  const kept: { key: string; item: T }[] = [];
  for (;;) {
    const { iterator, metadata } = await ctx.stub.getStateByPartialCompositeKeyWithPagination(type, attrs, CHUNK, bookmark);
    let rows = 0;
    for await (const row of rowsOf(ctx, iterator)) {
      rows++;
      const item = await pick(row);
      if (item === null) continue;
      kept.push({ key: row.key, item });
      if (kept.length > limit) {
        return { items: kept.slice(0, limit).map((k) => k.item), next: kept[limit - 1].key };
      }
    }
    bookmark = metadata?.bookmark ?? '';
    if (rows < CHUNK || bookmark === '') return { items: kept.map((k) => k.item), next: '' };
  }
}

/**
 * walkIndex over an index whose attribute `at` names an object stored under
 * (objectType, that ID), as the patient indexes name records, consents and
 * requests: pick sees the ID and the object, and a row whose object is missing
 * is skipped.
 */
export function walkObjects<O, T>(
  ctx: Context,
  index: { type: string; attrs: string[]; at: number },
  objectType: string,
  limit: number,
  after: unknown,
  pick: (id: string, object: O) => T | null | Promise<T | null>,
): Promise<Page<T>> {
  return walkIndex(ctx, index.type, index.attrs, limit, after, async (row) => {
    const id = row.attributes[index.at];
    const object = await getJson<O>(ctx, key(ctx, objectType, id));
    return object ? pick(id, object) : null;
  });
}

/**
 * A page of an already computed, ordered list (audit trails: merged from several
 * histories, so their cost is the trail's, not the page's): the items after the
 * one whose sort key is `after`.
 */
export function pageOfSorted<T>(items: T[], sortKey: (item: T) => string, limit: number, after: unknown): Page<T> {
  if (after !== '' && (typeof after !== 'string' || after.length > 1024)) throw invalid('cursor does not belong to this list');
  const rest = after === '' ? items : items.filter((i) => sortKey(i) > after);
  if (rest.length <= limit) return { items: rest, next: '' };
  const page = rest.slice(0, limit);
  return { items: page, next: sortKey(page[limit - 1]) };
}
