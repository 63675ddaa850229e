/*
 * The Research contract's rules over a FakeNetwork, for route tests: the chaincode's own
 * tabulation (ledger-model research.ts), its refusals as coded messages.
 */
import { codedError, RESEARCH_MIN_CELL_SIZE, tabulate, type ErrorCode, type ResearchDimension } from '@ehr/ledger-model';
import { randomUUID } from 'node:crypto';
import type { Actor } from '../domain.js';
import type { ResearchLedger, ResearchQueryEntry } from '../services/research.js';
import type { FakeNetwork } from './fake-ledger.js';

const fail = (code: ErrorCode, detail: string) => new Error(codedError(code, detail));

export class FakeResearchNetwork {
    readonly optOuts = new Map<string, { optedOut: boolean; setAt: string }>();
    readonly queries: ResearchQueryEntry[] = [];

    constructor(readonly net: FakeNetwork) {}

    ledgerFor(mspId: string): ResearchLedger {
        return new FakeResearchLedger(this, mspId);
    }
}

class FakeResearchLedger implements ResearchLedger {
    readonly #r: FakeResearchNetwork;
    readonly #msp: string;

    constructor(r: FakeResearchNetwork, mspId: string) {
        this.#r = r;
        this.#msp = mspId;
    }

    #home(actor: Actor, patientId: string) {
        const patient = this.#r.net.patients.get(patientId);
        if (!patient || patient.homeHospital !== this.#msp) throw fail('NOT_FOUND', `patient ${patientId} does not exist`);
        if (actor.role === 'patient' && actor.id !== patientId) throw fail('FORBIDDEN', 'only the patient');
    }

    async setPreference(actor: Actor, patientId: string, optOut: boolean) {
        this.#home(actor, patientId);
        if (actor.role !== 'patient') throw fail('FORBIDDEN', 'only the patient');
        const preference = { optedOut: optOut, setAt: new Date().toISOString() };
        this.#r.optOuts.set(patientId, preference);
        return { patientId, ...preference, txId: randomUUID() };
    }

    async getPreference(actor: Actor, patientId: string) {
        this.#home(actor, patientId);
        const p = this.#r.optOuts.get(patientId);
        return { patientId, optedOut: p?.optedOut ?? false, setAt: p?.setAt ?? null };
    }

    async logQuery(actor: Actor, dimension: ResearchDimension, minCellSize: number) {
        if (actor.role !== 'researcher') throw fail('FORBIDDEN', 'statistics are for researchers');
        if (minCellSize < RESEARCH_MIN_CELL_SIZE) throw fail('INVALID_ARGUMENT', 'minCellSize');
        const queryId = randomUUID();
        this.#r.queries.push({ queryId, hospital: this.#msp, researcher: actor.id, dimension, minCellSize, at: new Date().toISOString() });
        return { queryId, txId: randomUUID() };
    }

    async statistics(queryId: string) {
        const query = this.#r.queries.find((q) => q.queryId === queryId && q.hospital === this.#msp);
        if (!query) throw fail('NOT_FOUND', `query ${queryId} does not exist`);
        const records = [...this.#r.net.records.values()].filter((r) => r.status === 'active' && !this.#r.optOuts.get(r.patientId)?.optedOut);
        const stats = tabulate(query.dimension, records, [...this.#r.net.hospitals.keys()], query.minCellSize);
        return { queryId, at: query.at, ...stats };
    }

    async listQueries(actor: Actor, limit: number) {
        if (actor.role !== 'auditor') throw fail('FORBIDDEN', 'for auditors');
        return { queries: this.#r.queries.slice(0, limit), nextCursor: null };
    }
}
