import { common } from '@hyperledger/fabric-protos';
import { majority, type AuditEntry as ChaincodeAuditEntry, type RecordMeta as LedgerRecordMeta } from '@ehr/ledger-model';
import type {
    AccessRequest,
    Actor,
    AuditEvent,
    AuditEventType,
    Category,
    ComponentHealth,
    Consent,
    Hospital,
    Patient,
    Purpose,
    RecordMeta,
} from '../domain.js';
import { AUDIT_EVENT_TYPES, recordFromLedger } from '../domain.js';

/** A record as the chaincode returns it: its ID added to the ledger value. */
type LedgerRecord = LedgerRecordMeta & { recordId: string };
import type {
    AccessLogged,
    BatchDelivery,
    CustodyLedger,
    Ledger,
    ListItems,
    ListKind,
    NewAccessRequest,
    Page,
    PageRequest,
    NewConsent,
    NewRecord,
    OpenedRecord,
    RecordPlan,
    TransactionLocation,
} from '../ports.js';
import { codedMessage, errorMessages, TransactionInvalidError, TransactionOutcomeUnknownError, VALIDATION } from './errors.js';
import { submit, evaluate } from './transactions.js';
import type { FabricConnection } from './connection.js';
import { ChannelOrganisations } from './channel-orgs.js';
import { createPublicKey, randomUUID } from 'node:crypto';

const utf8 = new TextEncoder();
const HOSPITALS_TTL_MS = 60_000;
const samePublicKey = (a: string, b: string) =>
    createPublicKey(a).export({ type: 'spki', format: 'der' }).equals(createPublicKey(b).export({ type: 'spki', format: 'der' }));
/** The acting person as the chaincode reads it (validate.ts actor). */
export const actorArg = (actor: Actor) => JSON.stringify({ id: actor.id, role: actor.role });
const isAuditType = (t: string): t is AuditEventType => (AUDIT_EVENT_TYPES as readonly string[]).includes(t);

/** The ledger names an encryption key this gateway holds no private key for. */
export class UnknownLedgerKeyError extends Error {
    constructor(mspId: string) {
        super(
            `the ledger names another encryption key for ${mspId} than this gateway's, and no key in keys.previousPrivateKeyPaths ` +
                'matches it: rotating would make every envelope wrapped to it unreadable here. Add its private key to ' +
                'keys.previousPrivateKeyPaths (network.sh rotate-key keeps it there), or, if it is lost, set keys.replaceUnknownLedgerKey',
        );
        this.name = 'UnknownLedgerKeyError';
    }
}

/**
 * The Ledger port on Fabric: every call goes through the hospital's one
 * fabric-gateway connection to its own peer, as the hospital's gateway identity
 * (ehr.role=gateway), with the acting person passed as an argument.
 */
export class FabricLedger implements Ledger, CustodyLedger {
    readonly #conn: FabricConnection;
    readonly #mspId: string;
    /** txId → block number never changes once committed. */
    readonly #blockOfTx = new Map<string, number>();
    readonly #channelOrgs: ChannelOrganisations;
    #hospitals: { at: number; read: Promise<Hospital[]> } | undefined;
    /** Functions the committed chaincode lacks (#olderChaincode). */
    readonly #older = new Set<string>();

    constructor(conn: FabricConnection, mspId: string) {
        this.#conn = conn;
        this.#mspId = mspId;
        this.#channelOrgs = new ChannelOrganisations(conn.network);
    }

    /**
     * The member hospitals and their keys, read once and kept until a Hospital* event
     * says they changed (invalidateHospitals), or for HOSPITALS_TTL_MS at most: every
     * store needs them, and they change a few times a year. A store in the moment
     * between a key rotation and its event wraps to the previous key, which the
     * rotating hospital keeps (keys.previousPrivateKeyPaths).
     */
    listHospitals(): Promise<Hospital[]> {
        const now = Date.now();
        if (!this.#hospitals || now - this.#hospitals.at > HOSPITALS_TTL_MS) {
            const read = this.#readHospitals();
            const entry = { at: now, read };
            this.#hospitals = entry;
            // A failed read is not kept: the next call asks the peer again.
            read.catch(() => {
                if (this.#hospitals === entry) this.#hospitals = undefined;
            });
        }
        return this.#hospitals.read;
    }

    /** Drops the cached hospital list (on HospitalRegistered, HospitalKeyRotated, HospitalDeparted, HospitalRemoved). */
    invalidateHospitals(): void {
        this.#hospitals = undefined;
    }

    #readHospitals(): Promise<Hospital[]> {
        return evaluate<Hospital[]>(this.#conn.resilient, 'Hospitals:ListHospitals');
    }

    /**
     * Registers this hospital's encryption key on the ledger, or rotates the
     * registered one to it. A rotation only moves away from a key this gateway
     * still holds (one of `previousPublicKeys`), unless `replaceUnknown` says
     * the envelopes wrapped to the registered key may be given up.
     */
    async registerSelf(
        name: string,
        publicKeyPem: string,
        options: { previousPublicKeys?: readonly string[]; replaceUnknown?: boolean } = {},
    ): Promise<'registered' | 'unchanged' | 'rotated'> {
        const current = (await this.#readHospitals()).find((h) => h.mspId === this.#mspId);
        if (!current) {
            await submit(this.#conn.resilient, 'Hospitals:RegisterHospital', [name, publicKeyPem]);
            this.invalidateHospitals();
            return 'registered';
        }
        if (samePublicKey(current.publicKey, publicKeyPem)) return 'unchanged';
        const held = (options.previousPublicKeys ?? []).some((k) => samePublicKey(k, current.publicKey));
        if (!held && !options.replaceUnknown) throw new UnknownLedgerKeyError(this.#mspId);
        await submit(this.#conn.resilient, 'Hospitals:RotateKey', [publicKeyPem]);
        this.invalidateHospitals();
        return 'rotated';
    }

    async registerPatient(actor: Actor, patientId: string) {
        const { result, txId } = await submit<Patient>(this.#conn.resilient, 'Patients:RegisterPatient', [
            patientId,
            actorArg(actor),
        ]);
        return { ...result, txId };
    }

    async getPatient(_actor: Actor, patientId: string): Promise<Patient> {
        return evaluate<Patient>(this.#conn.resilient, 'Patients:GetPatient', [patientId]);
    }

    async planRecord(actor: Actor, patientId: string, recordId: string, category: Category): Promise<RecordPlan> {
        if (!this.#older.has('Records:PlanRecord')) {
            try {
                const { grantees, ...patient } = await evaluate<Patient & { grantees: string[] }>(this.#conn.resilient, 'Records:PlanRecord', [
                    patientId,
                    recordId,
                    category,
                ]);
                return { patient, grantees };
            } catch (err) {
                if (!this.#olderChaincode('Records:PlanRecord', err)) throw err;
            }
        }
        return { patient: await this.getPatient(actor, patientId), grantees: [] };
    }

    async createRecord(actor: Actor, record: NewRecord, envelopes: ReadonlyMap<string, string>, optional: ReadonlySet<string> = new Set()) {
        const extras = [...envelopes.keys()].filter((m) => optional.has(m));
        if (extras.length === 0) return this.#createRecord(actor, record, envelopes, false);
        try {
            return await this.#createRecord(actor, record, envelopes, true);
        } catch (err) {
            // Handed over and perhaps committed: writing it again would be a second record.
            if (err instanceof TransactionOutcomeUnknownError) throw err;
            return this.#createRecord(actor, record, new Map([...envelopes].filter(([m]) => !optional.has(m))), false);
        }
    }

    /** `failFast`: endorsement failures are not retried, for a caller with a fallback. */
    async #createRecord(actor: Actor, record: NewRecord, envelopes: ReadonlyMap<string, string>, failFast: boolean) {
        const { result, txId } = await this.#submitWithPlans<LedgerRecord>(
            'Records:CreateRecord',
            [
                record.recordId,
                record.patientId,
                record.cid,
                String(record.ciphertextSize),
                record.category,
                record.supersedes ?? '',
                actorArg(actor),
            ],
            [...envelopes.keys()],
            { envelopes: utf8.encode(JSON.stringify(Object.fromEntries(envelopes))) },
            failFast,
        );
        return { ...recordFromLedger(result), txId };
    }

    async getRecord(_actor: Actor, recordId: string): Promise<RecordMeta> {
        return recordFromLedger(await evaluate<LedgerRecord>(this.#conn.resilient, 'Records:GetRecord', [recordId]));
    }

    async listRecords(_actor: Actor, patientId: string): Promise<RecordMeta[]> {
        const rows = await evaluate<(LedgerRecord & { access: string | null })[]>(
            this.#conn.resilient,
            'Records:ListRecords',
            [patientId, ''],
        );
        // Metadata of records this hospital can open; erased ones stay listed as erased.
        return rows
            .filter((r) => r.access !== null || r.status === 'erased')
            .map(({ access: _access, ...meta }) => recordFromLedger(meta));
    }

    async locateRecord(_actor: Actor, recordId: string): Promise<TransactionLocation> {
        const { txId } = await evaluate<{ txId: string }>(this.#conn.resilient, 'Records:LocateRecord', [recordId]);
        return { txId, blockNumber: await this.#blockNumber(txId) };
    }

    async eraseRecord(actor: Actor, recordId: string) {
        const { result, txId } = await submit<LedgerRecord>(this.#conn.resilient, 'Records:EraseRecord', [
            recordId,
            actorArg(actor),
        ]);
        return { ...recordFromLedger(result), txId };
    }

    async logAccess(actor: Actor, recordId: string, purpose: Purpose): Promise<AccessLogged> {
        const { result, txId } = await submit<{ basis: string }>(this.#conn.resilient, 'Access:LogAccess', [
            recordId,
            purpose,
            actorArg(actor),
        ]);
        return { basis: result.basis, txId };
    }

    async readEnvelope(_actor: Actor, recordId: string, purpose: Purpose): Promise<string | undefined> {
        try {
            const env = await evaluate<{ envelope: string }>(this.#conn.resilient, 'Access:GetEnvelope', [recordId, purpose]);
            return env.envelope;
        } catch (err) {
            const coded = codedMessage(err);
            if (coded?.code === 'NOT_FOUND' && coded.detail.startsWith('no envelope for')) return undefined;
            throw err;
        }
    }

    async openRecord(actor: Actor, recordId: string, purpose: Purpose): Promise<OpenedRecord> {
        if (!this.#older.has('Access:OpenRecord')) {
            try {
                const out = await evaluate<{ record: LedgerRecord; envelope: string | null }>(this.#conn.resilient, 'Access:OpenRecord', [recordId, purpose]);
                return { record: recordFromLedger(out.record), ...(out.envelope ? { envelope: out.envelope } : {}) };
            } catch (err) {
                if (!this.#olderChaincode('Access:OpenRecord', err)) throw err;
            }
        }
        const [record, envelope] = await Promise.all([this.getRecord(actor, recordId), this.readEnvelope(actor, recordId, purpose)]);
        return { record, ...(envelope ? { envelope } : {}) };
    }

    /**
     * A channel whose committed chaincode predates a function this gateway calls (a gateway
     * upgraded before the consortium approved the new definition): the older calls are used
     * from then on, until this gateway restarts.
     */
    #olderChaincode(name: string, err: unknown): boolean {
        if (!errorMessages(err).some((m) => m.includes('function that does not exist'))) return false;
        this.#older.add(name);
        return true;
    }

    /** Hands a wrapped key to a grantee; the grantee's peer must endorse the write into its collection. */
    async deliverEnvelope(recordId: string, grantee: string, envelope: string): Promise<string> {
        const { txId } = await this.#submitWithPlans('Access:DeliverEnvelope', [recordId, grantee], [grantee], {
            envelope: utf8.encode(envelope),
        });
        return txId;
    }

    /** Many envelopes for one grantee in one transaction; the grantee's peer must endorse, as for one. */
    async deliverEnvelopes(grantee: string, envelopes: ReadonlyMap<string, string>): Promise<BatchDelivery> {
        const { result, txId } = await this.#submitWithPlans<Omit<BatchDelivery, 'txId'>>('Access:DeliverEnvelopes', [grantee], [grantee], {
            envelopes: utf8.encode(JSON.stringify(Object.fromEntries(envelopes))),
        });
        return { txId, delivered: result.delivered, skipped: result.skipped, refused: result.refused };
    }

    async readOwnEnvelopes(recordIds: readonly string[], exceptHeldBy?: string): Promise<Map<string, string>> {
        const out = await evaluate<Record<string, string>>(this.#conn.resilient, 'Access:GetEnvelopes', [
            JSON.stringify(recordIds),
            exceptHeldBy ?? '',
        ]);
        return new Map(Object.entries(out));
    }

    async listHeld(patientId: string): Promise<string[]> {
        const rows = await evaluate<{ recordId: string }[]>(this.#conn.resilient, 'Access:ListHeld', [patientId]);
        return rows.map((r) => r.recordId);
    }

    async purgeEnvelope(recordId: string): Promise<string> {
        // No transient data: the peer's gateway picks endorsers that satisfy
        // both the chaincode policy and this hospital's collection.
        const { txId } = await submit(this.#conn.resilient, 'Access:PurgeEnvelope', [recordId]);
        return txId;
    }

    async checkAccess(recordId: string): Promise<{ allowed: boolean; holdsEnvelope: boolean }> {
        return evaluate(this.#conn.resilient, 'Access:CheckAccess', [recordId, '']);
    }

    async listHolders(recordId: string): Promise<string[]> {
        const rows = await evaluate<{ mspId: string }[]>(this.#conn.resilient, 'Access:ListHolders', [recordId]);
        return rows.map((r) => r.mspId);
    }

    async getConsent(consentId: string): Promise<Consent> {
        return evaluate<Consent>(this.#conn.resilient, 'Consents:GetConsent', [consentId]);
    }

    async grantConsent(actor: Actor, consent: NewConsent) {
        const { result, txId } = await submit<Consent>(this.#conn.resilient, 'Consents:GrantConsent', [
            randomUUID(),
            consent.patientId,
            consent.grantee,
            JSON.stringify(consent.scope),
            JSON.stringify(consent.purposes),
            consent.expiresAt ?? '',
            actorArg(actor),
        ]);
        return { ...result, txId };
    }

    async revokeConsent(actor: Actor, consentId: string) {
        const { result, txId } = await submit<Consent>(this.#conn.resilient, 'Consents:RevokeConsent', [
            consentId,
            actorArg(actor),
        ]);
        return { ...result, txId };
    }

    async listConsents(_actor: Actor, patientId: string): Promise<Consent[]> {
        return evaluate<Consent[]>(this.#conn.resilient, 'Consents:ListConsents', [patientId]);
    }

    async createRequest(actor: Actor, request: NewAccessRequest) {
        const { result, txId } = await submit<AccessRequest>(this.#conn.resilient, 'AccessRequests:CreateRequest', [
            randomUUID(),
            request.patientId,
            request.purpose,
            JSON.stringify(request.scope),
            request.reason,
            actorArg(actor),
        ]);
        return { ...result, txId };
    }

    async listRequests(_actor: Actor, patientId: string): Promise<AccessRequest[]> {
        return evaluate<AccessRequest[]>(this.#conn.resilient, 'AccessRequests:ListRequests', [patientId]);
    }

    async decideRequest(actor: Actor, requestId: string, decision: 'approve' | 'reject', options?: { expiresAt?: string }) {
        const { result, txId } =
            decision === 'approve'
                ? await submit<AccessRequest>(this.#conn.resilient, 'AccessRequests:ApproveRequest', [
                      requestId,
                      randomUUID(),
                      options?.expiresAt ?? '',
                      actorArg(actor),
                  ])
                : await submit<AccessRequest>(this.#conn.resilient, 'AccessRequests:RejectRequest', [
                      requestId,
                      actorArg(actor),
                  ]);
        return { ...result, txId };
    }

    async auditRecord(actor: Actor, recordId: string): Promise<AuditEvent[]> {
        const { patientId, entries } = await evaluate<{ patientId: string; entries: ChaincodeAuditEntry[] }>(
            this.#conn.resilient,
            'Audit:RecordHistory',
            [recordId, actorArg(actor)],
        );
        return this.#auditEvents(patientId, entries);
    }

    async auditPatient(actor: Actor, patientId: string): Promise<AuditEvent[]> {
        const { entries } = await evaluate<{ entries: ChaincodeAuditEntry[] }>(this.#conn.resilient, 'Audit:PatientHistory', [
            patientId,
            actorArg(actor),
        ]);
        return this.#auditEvents(patientId, entries);
    }

    /** `Lists:*Page`: the chaincode pages and filters; the items are shaped as the whole lists' are. */
    async listPage<K extends ListKind>(actor: Actor, kind: K, subject: string, page: PageRequest): Promise<Page<ListItems[K]>> {
        const size = String(page.limit);
        const contract = this.#conn.resilient;
        switch (kind) {
            case 'records': {
                const { items, next } = await evaluate<Page<LedgerRecord & { access: string | null }>>(contract, 'Lists:RecordsPage', [subject, '', size, page.after]);
                const visible = items.filter((r) => r.access !== null || r.status === 'erased').map(({ access: _access, ...meta }) => recordFromLedger(meta));
                return { items: visible as ListItems[K][], next };
            }
            case 'consents':
                return evaluate<Page<ListItems[K]>>(contract, 'Lists:ConsentsPage', [subject, size, page.after]);
            case 'requests':
                return evaluate<Page<ListItems[K]>>(contract, 'Lists:RequestsPage', [subject, size, page.after]);
            default: {
                const name = kind === 'auditRecord' ? 'Lists:RecordHistoryPage' : 'Lists:PatientHistoryPage';
                const trail = await evaluate<Page<ChaincodeAuditEntry> & { patientId: string }>(contract, name, [subject, actorArg(actor), size, page.after]);
                return { items: (await this.#auditEvents(trail.patientId, trail.items)) as ListItems[K][], next: trail.next };
            }
        }
    }

    async health(): Promise<ComponentHealth[]> {
        const up = await this.#conn.healthy();
        return [up ? { name: 'fabric', up } : { name: 'fabric', up, detail: 'the peer does not answer ledger queries' }];
    }

    /**
     * Endorsement plans for a write into the named hospitals' implicit
     * collections: each owner (its own Endorsement policy) plus this hospital,
     * topped up to a majority of the channel's organisations (what the MAJORITY
     * policy counts, also while a hospital joins or leaves) for the public writes. The
     * peer's gateway refuses to choose endorsers itself when transient data is
     * involved, so the top-up is named too; one plan per choice of top-up, so
     * a hospital that is down can be skipped.
     */
    async #endorsementPlans(collectionOwners: string[]): Promise<string[][]> {
        const required = [...new Set([this.#mspId, ...collectionOwners])];
        const all = await this.#channelOrgs.list();
        const missing = majority(all.length) - required.length;
        if (missing <= 0) return [required.sort()];
        const others = all.filter((m) => !required.includes(m));
        // Every choice of top-up, not only neighbours: with four hospitals and one
        // down, only some pairs of the other three avoid it.
        const plans = combinations(others, missing).map((extra) => [...required, ...extra].sort());
        return plans.length ? plans : [required.sort()];
    }

    /**
     * Submits naming the endorsers: the first plan, then the next ones in turn while
     * endorsement fails (fabric/resilient.ts), so a hospital that is down is skipped.
     */
    async #submitWithPlans<T>(
        name: string,
        args: string[],
        collectionOwners: string[],
        transientData: Record<string, Uint8Array>,
        failFast = false,
    ): Promise<{ result: T; txId: string }> {
        const endorsementPlans = await this.#endorsementPlans(collectionOwners);
        try {
            return await submit<T>(this.#conn.resilient, name, args, { transientData, endorsementPlans, ...(failFast ? { failFastEndorsement: true } : {}) });
        } catch (err) {
            // The channel gained a hospital since the cached count (its join's config update
            // committed in between): the plan was one endorser short and nothing was written.
            // Once more, with the channel's organisations read afresh.
            if (!(err instanceof TransactionInvalidError) || err.validationCode !== VALIDATION.ENDORSEMENT_POLICY_FAILURE) throw err;
            this.#channelOrgs.invalidate();
            return submit<T>(this.#conn.resilient, name, args, {
                transientData,
                endorsementPlans: await this.#endorsementPlans(collectionOwners),
                ...(failFast ? { failFastEndorsement: true } : {}),
            });
        }
    }

    async #blockNumber(txId: string): Promise<number> {
        const cached = this.#blockOfTx.get(txId);
        if (cached !== undefined) return cached;
        const qscc = this.#conn.network.getContract('qscc');
        const bytes = await qscc.evaluateTransaction('GetBlockByTxID', this.#conn.network.getName(), txId);
        const n = Number(common.Block.deserializeBinary(bytes).getHeader()?.getNumber() ?? -1);
        if (this.#blockOfTx.size > 100_000) this.#blockOfTx.clear();
        this.#blockOfTx.set(txId, n);
        return n;
    }

    async #auditEvents(patientId: string, entries: ChaincodeAuditEntry[]): Promise<AuditEvent[]> {
        const events: AuditEvent[] = [];
        for (const e of entries) {
            if (!isAuditType(e.action)) continue;
            const d = e.details;
            const event: AuditEvent = {
                type: e.action,
                txId: e.txId,
                blockNumber: await this.#blockNumber(e.txId),
                timestamp: e.timestamp,
                hospital: e.hospital ?? '',
                actor: e.actor ?? '',
                patientId,
            };
            if (e.subject.type === 'record') event.recordId = e.subject.id;
            if (e.subject.type === 'consent') event.consentId = e.subject.id;
            if (e.subject.type === 'request') event.requestId = e.subject.id;
            if (typeof d.recordId === 'string') event.recordId = d.recordId;
            if (typeof d.consentId === 'string') event.consentId = d.consentId;
            if (typeof d.purpose === 'string') event.purpose = d.purpose as Purpose;
            if (typeof d.basis === 'string') event.basis = d.basis;
            if (typeof d.role === 'string') event.actorRole = d.role;
            events.push(event);
        }
        return events;
    }
}

/** The k-element subsets of items, in order (items are a consortium's hospitals: few). */
export function combinations<T>(items: readonly T[], k: number): T[][] {
    if (k === 0) return [[]];
    if (k > items.length) return [];
    const [first, ...rest] = items;
    return [...combinations(rest, k - 1).map((c) => [first, ...c]), ...combinations(rest, k)];
}
