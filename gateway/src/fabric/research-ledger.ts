import type { ResearchDimension, Statistics } from '@ehr/ledger-model';
import { randomUUID } from 'node:crypto';
import type { Actor } from '../domain.js';
import type { LoggedQuery, ResearchLedger, ResearchPreferenceView, ResearchQueryEntry } from '../services/research.js';
import type { FabricConnection } from './connection.js';
import { actorArg } from './fabric-ledger.js';
import { evaluate, submit } from './transactions.js';

/** The Research contract through the hospital's one connection, as its gateway identity. */
export class FabricResearchLedger implements ResearchLedger {
    readonly #conn: FabricConnection;

    constructor(conn: FabricConnection) {
        this.#conn = conn;
    }

    async setPreference(actor: Actor, patientId: string, optOut: boolean) {
        const { result, txId } = await submit<ResearchPreferenceView>(this.#conn.resilient, 'Research:SetResearchPreference', [
            patientId,
            String(optOut),
            actorArg(actor),
        ]);
        return { ...result, txId };
    }

    getPreference(actor: Actor, patientId: string): Promise<ResearchPreferenceView> {
        return evaluate<ResearchPreferenceView>(this.#conn.resilient, 'Research:GetResearchPreference', [patientId, actorArg(actor)]);
    }

    async logQuery(actor: Actor, dimension: ResearchDimension, minCellSize: number): Promise<LoggedQuery> {
        const { result, txId } = await submit<{ queryId: string }>(this.#conn.resilient, 'Research:LogQuery', [
            randomUUID(),
            dimension,
            String(minCellSize),
            actorArg(actor),
        ]);
        return { queryId: result.queryId, txId };
    }

    statistics(queryId: string) {
        return evaluate<Statistics & { queryId: string; at: string }>(this.#conn.resilient, 'Research:Statistics', [queryId]);
    }

    listQueries(actor: Actor, limit: number, cursor?: string) {
        return evaluate<{ queries: ResearchQueryEntry[]; nextCursor: string | null }>(this.#conn.resilient, 'Research:ListQueries', [
            String(limit),
            cursor ?? '',
            actorArg(actor),
        ]);
    }
}
