/*
 * An in-memory ledger with the chaincode's main rules, for route and service tests. One
 * FakeNetwork holds the shared state; `ledgerFor(mspId)` is one hospital's gateway view.
 * Rejections use the chaincode's coded messages, so the real error mapping is exercised.
 */
import { accessBasis, codedError, type ErrorCode } from '@ehr/ledger-model';
import { randomUUID } from 'node:crypto';
import type { AccessRequest, Actor, AuditEvent, Category, ComponentHealth, Consent, Hospital, Patient, Purpose, RecordMeta } from '../domain.js';
import type { AccessLogged, Ledger, ListItems, ListKind, NewAccessRequest, NewConsent, NewRecord, OpenedRecord, Page, PageRequest, RecordPlan, TransactionLocation } from '../ports.js';

const fail = (code: ErrorCode, detail: string) => new Error(codedError(code, detail));

export class FakeNetwork {
    readonly hospitals = new Map<string, Hospital>();
    readonly patients = new Map<string, Patient>();
    readonly records = new Map<string, RecordMeta & { txId: string }>();
    readonly consents = new Map<string, Consent>();
    readonly requests = new Map<string, AccessRequest>();
    /** mspId → recordId → envelope */
    readonly envelopes = new Map<string, Map<string, string>>();
    readonly events: AuditEvent[] = [];
    readonly calls: string[] = [];
    fabricUp = true;
    /** This fake's clock: the moment the access rule is judged at (the chaincode uses the transaction's). */
    now: () => string = () => new Date().toISOString();
    #block = 0;

    addHospital(mspId: string, publicKey: string): void {
        this.hospitals.set(mspId, { mspId, name: mspId.replace(/MSP$/, ''), publicKey, registeredAt: new Date().toISOString() });
    }

    ledgerFor(mspId: string): FakeLedger {
        return new FakeLedger(this, mspId);
    }

    commit(event: Omit<AuditEvent, 'txId' | 'blockNumber' | 'timestamp'>): { txId: string; blockNumber: number; timestamp: string } {
        if (!this.fabricUp) throw Object.assign(new Error('14 UNAVAILABLE: connection refused'), { code: 14, details: [] });
        const committed = { txId: randomUUID().replace(/-/g, ''), blockNumber: ++this.#block, timestamp: new Date().toISOString() };
        this.events.push({ ...event, ...committed });
        return committed;
    }

    /** What the chaincode allows (the ledger's own rule, judged at this fake's clock): custodian, home hospital, or a consent in force covering record and purpose. */
    accessBasis(mspId: string, record: RecordMeta, purpose: Purpose | null): string | undefined {
        const consents = [...this.consents.values()].filter((c) => c.patientId === record.patientId).map((consent) => ({ consentId: consent.consentId, consent }));
        const homeHospital = this.patients.get(record.patientId)?.homeHospital ?? '';
        return accessBasis({ mspId, recordId: record.recordId, record, homeHospital, consents, purpose, at: this.now() }) ?? undefined;
    }
}

export class FakeLedger implements Ledger {
    readonly #net: FakeNetwork;
    readonly #msp: string;

    constructor(net: FakeNetwork, mspId: string) {
        this.#net = net;
        this.#msp = mspId;
    }

    async listHospitals(): Promise<Hospital[]> {
        this.#call('listHospitals');
        return [...this.#net.hospitals.values()];
    }

    async registerPatient(actor: Actor, patientId: string): Promise<Patient & { txId: string }> {
        this.#call('registerPatient');
        if (this.#net.patients.has(patientId)) throw fail('CONFLICT', `patient ${patientId} exists`);
        const { txId, timestamp } = this.#net.commit({ type: 'PatientRegistered', hospital: this.#msp, actor: actor.id, patientId });
        const patient = { patientId, homeHospital: this.#msp, registeredAt: timestamp };
        this.#net.patients.set(patientId, patient);
        return { ...patient, txId };
    }

    async getPatient(_actor: Actor, patientId: string): Promise<Patient> {
        this.#call('getPatient');
        const patient = this.#net.patients.get(patientId);
        if (!patient) throw fail('NOT_FOUND', `patient ${patientId}`);
        return patient;
    }

    async planRecord(actor: Actor, patientId: string, recordId: string, category: Category): Promise<RecordPlan> {
        this.#call('planRecord');
        const patient = this.#net.patients.get(patientId);
        if (!patient) throw fail('NOT_FOUND', `patient ${patientId}`);
        const provisional: RecordMeta = { recordId, patientId, custodian: this.#msp, cid: '', ciphertextSize: 0, category, supersedes: null, status: 'active', createdAt: this.#net.now(), createdBy: actor.id };
        const grantees = [...new Set([...this.#net.consents.values()].filter((c) => c.patientId === patientId).map((c) => c.grantee))]
            .filter((m) => m !== this.#msp && m !== patient.homeHospital && this.#net.hospitals.has(m) && this.#net.accessBasis(m, provisional, null))
            .sort();
        return { patient, grantees };
    }

    async createRecord(actor: Actor, r: NewRecord, envelopes: ReadonlyMap<string, string>): Promise<RecordMeta & { txId: string }> {
        this.#call('createRecord');
        const patient = this.#net.patients.get(r.patientId);
        if (!patient) throw fail('NOT_FOUND', `patient ${r.patientId}`);
        if (this.#net.records.has(r.recordId)) throw fail('CONFLICT', `record ${r.recordId} exists`);
        if (!envelopes.has(this.#msp) || !envelopes.has(patient.homeHospital)) throw fail('INVALID_ARGUMENT', 'envelopes for custodian and home hospital required');
        const { txId, timestamp } = this.#net.commit({ type: 'RecordCreated', hospital: this.#msp, actor: actor.id, patientId: r.patientId, recordId: r.recordId });
        const record = { recordId: r.recordId, patientId: r.patientId, custodian: this.#msp, cid: r.cid, ciphertextSize: r.ciphertextSize, category: r.category, supersedes: r.supersedes ?? null, status: 'active' as const, createdAt: timestamp, createdBy: actor.id, txId };
        this.#net.records.set(r.recordId, record);
        for (const [msp, envelope] of envelopes) this.#envelopes(msp).set(r.recordId, envelope);
        const { txId: _omit, ...meta } = record;
        return { ...meta, txId };
    }

    async getRecord(_actor: Actor, recordId: string): Promise<RecordMeta> {
        this.#call('getRecord');
        return this.#meta(this.#record(recordId));
    }

    async listRecords(actor: Actor, patientId: string): Promise<RecordMeta[]> {
        this.#call('listRecords');
        if (!this.#net.patients.has(patientId)) throw fail('NOT_FOUND', `patient ${patientId}`);
        return [...this.#net.records.values()]
            .filter((r) => r.patientId === patientId && (actor.role === 'patient' || this.#net.accessBasis(this.#msp, r, 'treatment')))
            .map((r) => this.#meta(r));
    }

    async locateRecord(_actor: Actor, recordId: string): Promise<TransactionLocation> {
        this.#call('locateRecord');
        const record = this.#record(recordId);
        const event = this.#net.events.find((e) => e.txId === record.txId)!;
        return { txId: record.txId, blockNumber: event.blockNumber! };
    }

    async eraseRecord(actor: Actor, recordId: string): Promise<RecordMeta & { txId: string }> {
        this.#call('eraseRecord');
        const record = this.#record(recordId);
        if (record.status === 'erased') throw fail('GONE', `record ${recordId} erased`);
        if (actor.role !== 'patient' || actor.id !== record.patientId) throw fail('FORBIDDEN', 'only the patient erases');
        const { txId } = this.#net.commit({ type: 'RecordErased', hospital: this.#msp, actor: actor.id, patientId: record.patientId, recordId });
        record.status = 'erased';
        for (const envelopes of this.#net.envelopes.values()) envelopes.delete(recordId);
        return { ...this.#meta(record), txId };
    }

    async logAccess(actor: Actor, recordId: string, purpose: Purpose): Promise<AccessLogged> {
        this.#call('logAccess');
        const record = this.#record(recordId);
        if (record.status === 'erased') throw fail('GONE', `record ${recordId} erased`);
        const basis = this.#net.accessBasis(this.#msp, record, purpose);
        if (!basis) throw fail('FORBIDDEN', 'no consent covers this access');
        const { txId } = this.#net.commit({ type: 'RecordAccessed', hospital: this.#msp, actor: actor.id, actorRole: actor.role, patientId: record.patientId, recordId, purpose, basis });
        return { txId, basis };
    }

    async readEnvelope(_actor: Actor, recordId: string, purpose: Purpose): Promise<string | undefined> {
        this.#call('readEnvelope');
        const record = this.#record(recordId);
        if (!this.#net.accessBasis(this.#msp, record, purpose)) throw fail('FORBIDDEN', 'no consent covers this access');
        return this.#envelopes(this.#msp).get(recordId);
    }

    async openRecord(_actor: Actor, recordId: string, purpose: Purpose): Promise<OpenedRecord> {
        this.#call('openRecord');
        const record = this.#record(recordId);
        if (!this.#net.accessBasis(this.#msp, record, null)) throw fail('NOT_FOUND', `record ${recordId} does not exist`);
        if (record.status === 'erased') throw fail('GONE', `record ${recordId} erased`);
        if (!this.#net.accessBasis(this.#msp, record, purpose)) throw fail('FORBIDDEN', 'no consent covers this access');
        const envelope = this.#envelopes(this.#msp).get(recordId);
        return { record: this.#meta(record), ...(envelope ? { envelope } : {}) };
    }

    async grantConsent(actor: Actor, c: NewConsent): Promise<Consent & { txId: string }> {
        this.#call('grantConsent');
        this.#homePatient(actor, c.patientId);
        if (!this.#net.hospitals.has(c.grantee)) throw fail('NOT_FOUND', `hospital ${c.grantee}`);
        const consentId = randomUUID();
        const { txId, timestamp } = this.#net.commit({ type: 'ConsentGranted', hospital: this.#msp, actor: actor.id, patientId: c.patientId, consentId });
        const consent: Consent = { consentId, patientId: c.patientId, grantee: c.grantee, scope: c.scope, purposes: c.purposes, grantedAt: timestamp, expiresAt: c.expiresAt ?? null, status: 'active', revokedAt: null };
        this.#net.consents.set(consentId, consent);
        return { ...consent, txId };
    }

    async revokeConsent(actor: Actor, consentId: string): Promise<Consent & { txId: string }> {
        this.#call('revokeConsent');
        const consent = this.#net.consents.get(consentId);
        if (!consent) throw fail('NOT_FOUND', `consent ${consentId}`);
        this.#homePatient(actor, consent.patientId);
        if (consent.status === 'revoked') throw fail('CONFLICT', 'already revoked');
        const { txId, timestamp } = this.#net.commit({ type: 'ConsentRevoked', hospital: this.#msp, actor: actor.id, patientId: consent.patientId, consentId });
        Object.assign(consent, { status: 'revoked', revokedAt: timestamp });
        return { ...consent, txId };
    }

    /** Need-to-know as the chaincode has it: all at home and at custodians, a grantee its own, 404 elsewhere. */
    async listConsents(_actor: Actor, patientId: string): Promise<Consent[]> {
        this.#call('listConsents');
        const patient = this.#net.patients.get(patientId);
        const all = [...this.#net.consents.values()].filter((c) => c.patientId === patientId);
        const custodian = [...this.#net.records.values()].some((r) => r.patientId === patientId && r.custodian === this.#msp);
        if (patient?.homeHospital === this.#msp || custodian) return all;
        const own = all.filter((c) => c.grantee === this.#msp);
        if (!patient || own.length === 0) throw fail('NOT_FOUND', `patient ${patientId} does not exist`);
        return own;
    }

    async createRequest(actor: Actor, r: NewAccessRequest): Promise<AccessRequest & { txId: string }> {
        this.#call('createRequest');
        if (!this.#net.patients.has(r.patientId)) throw fail('NOT_FOUND', `patient ${r.patientId}`);
        const requestId = randomUUID();
        const { txId, timestamp } = this.#net.commit({ type: 'AccessRequested', hospital: this.#msp, actor: actor.id, patientId: r.patientId, requestId });
        const request: AccessRequest = { requestId, ...r, requester: this.#msp, status: 'pending', requestedAt: timestamp, requestedBy: actor.id, decidedAt: null, consentId: null };
        this.#net.requests.set(requestId, request);
        return { ...request, txId };
    }

    async listRequests(_actor: Actor, patientId: string): Promise<AccessRequest[]> {
        this.#call('listRequests');
        return [...this.#net.requests.values()].filter((r) => r.patientId === patientId);
    }

    async decideRequest(actor: Actor, requestId: string, decision: 'approve' | 'reject', options?: { expiresAt?: string }): Promise<AccessRequest & { txId: string }> {
        this.#call('decideRequest');
        const request = this.#net.requests.get(requestId);
        if (!request) throw fail('NOT_FOUND', `request ${requestId}`);
        this.#homePatient(actor, request.patientId);
        if (request.status !== 'pending') throw fail('CONFLICT', `request ${requestId} already ${request.status}`);
        let consentId: string | null = null;
        if (decision === 'approve') {
            consentId = (await this.grantConsent(actor, { patientId: request.patientId, grantee: request.requester, scope: request.scope, purposes: [request.purpose], ...options })).consentId;
        }
        const { txId, timestamp } = this.#net.commit({ type: 'RequestDecided', hospital: this.#msp, actor: actor.id, patientId: request.patientId, requestId });
        Object.assign(request, { status: decision === 'approve' ? 'approved' : 'rejected', decidedAt: timestamp, consentId });
        return { ...request, txId };
    }

    async auditRecord(_actor: Actor, recordId: string): Promise<AuditEvent[]> {
        this.#call('auditRecord');
        this.#record(recordId);
        const record = this.#net.records.get(recordId)!;
        return this.#net.events.filter((e) => e.recordId === recordId || (e.consentId && this.#net.consents.get(e.consentId)?.patientId === record.patientId));
    }

    async auditPatient(_actor: Actor, patientId: string): Promise<AuditEvent[]> {
        this.#call('auditPatient');
        if (!this.#net.patients.has(patientId)) throw fail('NOT_FOUND', `patient ${patientId}`);
        return this.#net.events.filter((e) => e.patientId === patientId);
    }

    /** The whole list, sliced: the position is the index after the page (the chaincode's is a key). */
    async listPage<K extends ListKind>(actor: Actor, kind: K, subject: string, page: PageRequest): Promise<Page<ListItems[K]>> {
        const whole: Record<ListKind, () => Promise<unknown[]>> = {
            records: () => this.listRecords(actor, subject),
            consents: () => this.listConsents(actor, subject),
            requests: () => this.listRequests(actor, subject),
            auditRecord: () => this.auditRecord(actor, subject),
            auditPatient: () => this.auditPatient(actor, subject),
        };
        const items = (await whole[kind]()) as ListItems[K][];
        const from = page.after === '' ? 0 : Number(page.after);
        if (!Number.isInteger(from) || from < 0) throw fail('INVALID_ARGUMENT', 'cursor does not belong to this list');
        const end = from + page.limit;
        return { items: items.slice(from, end), next: end < items.length ? String(end) : '' };
    }

    async health(): Promise<ComponentHealth[]> {
        return [{ name: 'fabric', up: this.#net.fabricUp }];
    }

    #call(name: string): void {
        this.#net.calls.push(name);
    }

    #record(recordId: string): RecordMeta & { txId: string } {
        const record = this.#net.records.get(recordId);
        if (!record) throw fail('NOT_FOUND', `record ${recordId}`);
        return record;
    }

    #meta(record: RecordMeta & { txId?: string }): RecordMeta {
        const { txId: _omit, ...meta } = record;
        return { ...meta };
    }

    #homePatient(actor: Actor, patientId: string): void {
        const patient = this.#net.patients.get(patientId);
        if (!patient) throw fail('NOT_FOUND', `patient ${patientId}`);
        if (actor.role !== 'patient' || actor.id !== patientId || patient.homeHospital !== this.#msp) {
            throw fail('FORBIDDEN', 'only the patient, through the home hospital');
        }
    }

    #envelopes(mspId: string): Map<string, string> {
        let map = this.#net.envelopes.get(mspId);
        if (!map) this.#net.envelopes.set(mspId, (map = new Map()));
        return map;
    }
}
