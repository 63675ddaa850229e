import type { ResearchDimension, Statistics } from '@ehr/ledger-model';
import type { Actor, Committed } from '../domain.js';
import type { ServiceContext } from './context.js';
import { assertPatientAtHome } from './guards.js';

export interface ResearchPreferenceView {
    patientId: string;
    optedOut: boolean;
    setAt: string | null;
}

export interface LoggedQuery extends Committed {
    queryId: string;
}

export interface ResearchQueryEntry {
    queryId: string;
    hospital: string;
    researcher: string;
    dimension: ResearchDimension;
    minCellSize: number;
    at: string;
}

/**
 * The ledger as research needs it (chaincode contract `Research`). Kept apart from the Ledger
 * port: only research statistics and the opt-out use it. Coded chaincode refusals keep their code.
 */
export interface ResearchLedger {
    /** The patient's opt-out through the home hospital; resolves once committed. */
    setPreference(actor: Actor, patientId: string, optOut: boolean): Promise<ResearchPreferenceView & Committed>;
    getPreference(actor: Actor, patientId: string): Promise<ResearchPreferenceView>;
    /** Step 1: the query's log entry, committed (audit before disclosure). */
    logQuery(actor: Actor, dimension: ResearchDimension, minCellSize: number): Promise<LoggedQuery>;
    /** Step 2: the chaincode's answer to a query this hospital logged. */
    statistics(queryId: string): Promise<Statistics & { queryId: string; at: string }>;
    listQueries(actor: Actor, limit: number, cursor?: string): Promise<{ queries: ResearchQueryEntry[]; nextCursor: string | null }>;
}

/** Research statistics for researchers, and the patient's opt-out (README: the privacy model). */
export class ResearchService {
    readonly #ctx: ServiceContext;
    readonly #ledger: ResearchLedger;
    readonly #minCellSize: number;

    constructor(ctx: ServiceContext, ledger: ResearchLedger, minCellSize: number) {
        this.#ctx = ctx;
        this.#ledger = ledger;
        this.#minCellSize = minCellSize;
    }

    async setPreference(actor: Actor, patientId: string, optOut: boolean) {
        await assertPatientAtHome(this.#ctx, actor, patientId);
        return this.#ledger.setPreference(actor, patientId, optOut);
    }

    async getPreference(actor: Actor, patientId: string): Promise<ResearchPreferenceView> {
        await assertPatientAtHome(this.#ctx, actor, patientId);
        return this.#ledger.getPreference(actor, patientId);
    }

    /** The log entry is committed before the answer is computed, so no answer goes unlogged. */
    async statistics(actor: Actor, dimension: ResearchDimension) {
        const logged = await this.#ledger.logQuery(actor, dimension, this.#minCellSize);
        const answer = await this.#ledger.statistics(logged.queryId);
        this.#ctx.logger.info({ queryId: logged.queryId, txId: logged.txId, dimension, researcher: actor.id }, 'research statistics answered');
        return { ...answer, txId: logged.txId };
    }

    listQueries(actor: Actor, limit: number, cursor?: string) {
        return this.#ledger.listQueries(actor, limit, cursor);
    }
}
