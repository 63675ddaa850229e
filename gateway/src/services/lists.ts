import { nextLink, pageRequest, type ListQueryInput, type PageLimits } from '../api/pagination.js';
import type { Actor } from '../domain.js';
import type { ListItems, ListKind } from '../ports.js';
import { oldestFirst } from './audit.js';
import type { ServiceContext } from './context.js';
import { assertPatientAtHome } from './guards.js';

export interface ListPage<T> {
    items: T[];
    /** The `Link` header value for the next page; undefined on the last page. */
    link?: string;
}

/**
 * The paginated lists of a patient (records, consents, requests, audit) and of a record
 * (audit). The chaincode pages and judges need-to-know per item; this checks the limit
 * against the configured bounds, turns the cursor into the chaincode's position and back.
 */
export class ListService {
    readonly #ctx: ServiceContext;
    readonly #limits: PageLimits;

    constructor(ctx: ServiceContext, limits: PageLimits) {
        this.#ctx = ctx;
        this.#limits = limits;
    }

    /** `path` is the request's path, for the next page's link. */
    async page<K extends ListKind>(actor: Actor, kind: K, subject: string, query: ListQueryInput, path: string): Promise<ListPage<ListItems[K]>> {
        const request = pageRequest(query, this.#limits, kind, subject);
        // A patient acts through the home hospital only, as for the whole lists.
        if (kind !== 'auditRecord') await assertPatientAtHome(this.#ctx, actor, subject);
        const page = await this.#ctx.ledger.listPage(actor, kind, subject, request);
        const items = kind === 'auditRecord' || kind === 'auditPatient' ? (oldestFirst(page.items as ListItems['auditPatient'][]) as ListItems[K][]) : page.items;
        const link = nextLink(path, kind, subject, request, page.next);
        return link ? { items, link } : { items };
    }
}
