/*
 * Every body, parameter and query of the REST API (DESIGN §7). The same schemas validate
 * requests (api/validate.ts) and generate the OpenAPI document (api/openapi.ts).
 */
import { MSP_ID, PATIENT_ID, REASONS, RESEARCH_DIMENSIONS, UUID, type Format } from '@ehr/ledger-model';
import { AUDIT_EVENT_TYPES, CATEGORIES, CONSENT_STATUSES, PURPOSES, RECORD_STATUSES, REQUEST_STATUSES } from '../domain.js';
import { z } from './zod.js';

// The chaincode's own formats: checked here too, so bad IDs never cost an endorsement. The
// document's `pattern` is the RegExp's source: JSON Schema patterns are ECMA-262 with the `u`
// flag already (a RegExp's toString would add slashes and flags that match nothing).
const formatted = (f: Format) => z.string().regex(f.pattern, `must be ${f.description}`).openapi({ pattern: f.pattern.source });

export const PatientId = formatted(PATIENT_ID).openapi('PatientId', { description: "Patient pseudonym in its home hospital's namespace: `<home MSP ID>:<local ID>`", example: 'Hospital1MSP:pat-002' });
export const RecordId = formatted(UUID).openapi('RecordId', { example: '0b7f3c2e-5d1a-4e8b-9c6f-2a4d8e1f7b3c' });
export const ConsentId = formatted(UUID).openapi('ConsentId', { example: '6c1e9a47-2f3b-4d5c-8e7a-9b0c1d2e3f40' });
export const RequestId = formatted(UUID).openapi('AccessRequestId', { example: 'a3d5f7b9-1c2e-4f60-8a9b-0c1d2e3f4a5b' });
export const MspId = formatted(MSP_ID).openapi('MspId', { example: 'Hospital2MSP' });
export const Category = z.enum(CATEGORIES).openapi('Category');
export const Purpose = z.enum(PURPOSES).openapi('Purpose');
export const Reason = z.enum(REASONS).openapi('Reason', {
    description:
        'Why access is asked for: a code, stored in clear on the ledger. Free text is refused (it could carry clinical detail or identifying data); say more to the patient through your own channels.',
    example: 'referral',
});
export const Timestamp = z.iso.datetime({ offset: true }).openapi({ example: '2026-01-31T12:00:00Z' });
const FutureTimestamp = Timestamp.refine((value) => Date.parse(value) > Date.now(), 'must be in the future');
export const TxId = z.string().openapi({ description: 'Fabric transaction ID' });

// ---- problems -------------------------------------------------------------------------

export const Problem = z
    .object({
        type: z.string(),
        title: z.string(),
        status: z.number().int(),
        detail: z.string(),
        instance: z.string().optional(),
        requestId: z.string().optional(),
        errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    })
    .openapi('Problem', { description: 'RFC 9457 problem details' });

// ---- scope ----------------------------------------------------------------------------

/** What a client sends: nothing (all records), categories, or recordIds — not both. */
export const ScopeInput = z
    .strictObject({
        categories: z.array(Category).min(1).max(CATEGORIES.length).optional(),
        recordIds: z.array(RecordId).min(1).max(100).optional(),
    })
    .refine((s) => !(s.categories && s.recordIds), { message: 'give categories or recordIds, not both' })
    .openapi('ScopeInput', { description: 'Omitted or empty: all of the patient\'s records' });

/** What the ledger keeps. */
export const Scope = z
    .discriminatedUnion('type', [
        z.object({ type: z.literal('all') }),
        z.object({ type: z.literal('categories'), categories: z.array(Category) }),
        z.object({ type: z.literal('recordIds'), recordIds: z.array(z.string()) }),
    ])
    .openapi('Scope');

// ---- hospitals ------------------------------------------------------------------------

export const Hospital = z
    .object({ mspId: MspId, name: z.string(), publicKey: z.string().openapi({ description: 'SPKI PEM (P-256) encryption key' }), registeredAt: Timestamp })
    .openapi('Hospital');
export const HospitalList = z.array(Hospital).openapi('HospitalList');

// ---- patients -------------------------------------------------------------------------

export const RegisterPatientBody = z
    .strictObject({ patientId: PatientId.optional() })
    .openapi('RegisterPatientBody', { description: 'Omit patientId to have the gateway choose one' });
export const PatientParams = z.object({ patientId: PatientId });
export const RegisteredPatient = z
    .object({ patientId: PatientId, homeHospital: MspId, registeredAt: Timestamp, txId: TxId })
    .openapi('RegisteredPatient');

// ---- records --------------------------------------------------------------------------

export const StoreRecordQuery = z.object({
    category: Category,
    title: z.string().min(1).max(256).optional().openapi({ description: 'Kept inside the encrypted blob only' }),
    fileName: z.string().min(1).max(256).optional().openapi({ description: 'Kept inside the encrypted blob only' }),
    supersedes: RecordId.optional(),
});
export const StoredRecord = z
    .object({
        recordId: RecordId,
        patientId: PatientId,
        custodian: MspId,
        cid: z.string(),
        plaintextSize: z.number().int().openapi({ description: 'Bytes of the document as uploaded' }),
        ciphertextSize: z.number().int().openapi({ description: 'Bytes of ciphertext in IPFS (the ledger\'s `size`); larger than plaintextSize by the encryption overhead' }),
        category: Category,
        sha256: z.string().openapi({ description: 'Hex SHA-256 of the document as uploaded' }),
        txId: TxId,
        createdAt: Timestamp,
    })
    .openapi('StoredRecord');

export const RecordParams = z.object({ recordId: RecordId });
export const RecordMeta = z
    .object({
        recordId: RecordId,
        patientId: PatientId,
        custodian: MspId,
        cid: z.string(),
        ciphertextSize: z.number().int().openapi({ description: 'Bytes of ciphertext in IPFS (the ledger\'s `size`); the document\'s own size is inside the encrypted blob only' }),
        category: Category,
        supersedes: RecordId.nullable(),
        status: z.enum(RECORD_STATUSES),
        createdAt: Timestamp,
        createdBy: z.string(),
    })
    .openapi('RecordMeta');
export const RecordList = z.array(RecordMeta).openapi('RecordList');

export const PurposeHeader = z.object({
    'x-purpose-of-use': Purpose.default('treatment').openapi({
        description: 'Why the record is read (default treatment); checked against the consent. A denial names the purposes this hospital\'s consents for the record allow.',
    }),
});

export const RecordVerification = z
    .object({
        cid: z.string(),
        ledgerTxId: TxId,
        blockNumber: z.number().int().nullable(),
        pinnedOn: z.array(z.string()).openapi({ description: 'IPFS Cluster peers holding a pin' }),
        status: z.enum(RECORD_STATUSES).openapi({ description: 'The record\'s status on the ledger' }),
        state: z.enum(['intact', 'erased', 'missing', 'corrupted']).openapi({
            description:
                'intact: retrievable, blocks match the CID, size matches the ledger; erased: crypto-shredded on purpose, nothing left to check (not damage); missing: the blob cannot be retrieved; corrupted: what is retrieved does not match the ledger',
        }),
        intact: z.boolean().openapi({ description: 'state is intact' }),
        detail: z.string().openapi({ description: 'The state in words' }),
    })
    .openapi('RecordVerification');

export const ErasedRecord = z
    .object({ recordId: RecordId, status: z.literal('erased'), txId: TxId })
    .openapi('ErasedRecord');

// ---- consents -------------------------------------------------------------------------

export const GrantConsentBody = z
    .strictObject({
        grantee: MspId,
        scope: ScopeInput.optional(),
        purposes: z.array(Purpose).min(1).max(PURPOSES.length),
        expiresAt: FutureTimestamp.optional(),
    })
    .openapi('GrantConsentBody');
// Marks a consent that is a break-glass grant (api/break-glass-endpoints.ts); no free text.
export const EmergencyMarker = z
    .object({
        reasonCode: z.string().openapi({ description: 'An EmergencyReason code', example: 'unconscious' }),
        declaredBy: z.string().openapi({ description: 'Actor pseudonym of the declaring clinician' }),
        declaredRole: z.string().openapi({ example: 'clinician' }),
        justificationDigest: z.string().openapi({ description: "SHA-256 commitment to the justification, which stays at the declaring hospital's gateway" }),
    })
    .openapi('EmergencyMarker');
export const Consent = z
    .object({
        consentId: ConsentId,
        patientId: PatientId,
        grantee: MspId,
        scope: Scope,
        purposes: z.array(Purpose),
        grantedAt: Timestamp,
        expiresAt: Timestamp.nullable(),
        status: z.enum(CONSENT_STATUSES),
        revokedAt: Timestamp.nullable(),
        emergency: EmergencyMarker.optional().openapi({ description: 'Present on break-glass grants (purpose emergency) only' }),
        txId: TxId.optional(),
    })
    .openapi('Consent');
export const ConsentList = z.array(Consent).openapi('ConsentList');
export const ConsentParams = z.object({ consentId: ConsentId });

// ---- access requests ------------------------------------------------------------------

export const CreateAccessRequestBody = z
    .strictObject({
        patientId: PatientId,
        purpose: Purpose,
        scope: ScopeInput.optional(),
        reason: Reason,
    })
    .openapi('CreateAccessRequestBody');
export const AccessRequest = z
    .object({
        requestId: RequestId,
        patientId: PatientId,
        requester: MspId,
        purpose: Purpose,
        scope: Scope,
        reason: z.string().openapi({ description: 'A Reason code; requests made before the vocabulary may carry the short free text allowed then', example: 'referral' }),
        status: z.enum(REQUEST_STATUSES),
        requestedAt: Timestamp,
        requestedBy: z.string(),
        decidedAt: Timestamp.nullable(),
        consentId: ConsentId.nullable(),
        txId: TxId.optional(),
    })
    .openapi('AccessRequest');
export const AccessRequestList = z.array(AccessRequest).openapi('AccessRequestList');
export const AccessRequestParams = z.object({ requestId: RequestId });
export const ApproveBody = z
    .strictObject({ expiresAt: FutureTimestamp.optional() })
    .openapi('ApproveBody', { description: 'Optional: an expiry for the consent the approval creates' });
export const RejectBody = z.strictObject({}).openapi('RejectBody');
export const Decision = z
    .object({ requestId: RequestId, status: z.enum(['approved', 'rejected']), consentId: ConsentId.optional(), txId: TxId })
    .openapi('Decision');

// ---- audit ----------------------------------------------------------------------------

export const AuditEvent = z
    .object({
        type: z.enum(AUDIT_EVENT_TYPES),
        txId: TxId,
        blockNumber: z.number().int().nullable(),
        timestamp: Timestamp,
        hospital: MspId,
        actor: z.string().min(1).openapi({
            description:
                "Who acted: the token's sub (an actor pseudonym, or the patientId); `gateway@<mspId>` for a gateway's own envelope delivery or purge; `unrecorded@<mspId>` where the ledger never recorded the actor (patients registered by older chaincode). Pseudonyms never contain '@'.",
        }),
        patientId: PatientId,
        recordId: RecordId.optional(),
        consentId: ConsentId.optional(),
        requestId: RequestId.optional(),
        purpose: Purpose.optional(),
        basis: z.string().optional(),
        actorRole: z
            .string()
            .optional()
            .openapi({ description: "RecordAccessed: the actor's role as the accessing hospital's gateway vouched for it; `unrecorded` on entries older than this field", example: 'clinician' }),
    })
    .openapi('AuditEvent');
export const AuditTrail = z.array(AuditEvent).openapi('AuditTrail');

// ---- research (services/research.ts) ---------------------------------------------------

export const ResearchPreferenceBody = z
    .strictObject({ optOut: z.boolean().openapi({ description: 'true: leave the patient out of every research statistic; false: take part again' }) })
    .openapi('ResearchPreferenceBody');
export const ResearchPreference = z
    .object({
        patientId: PatientId,
        optedOut: z.boolean(),
        setAt: Timestamp.nullable().openapi({ description: 'When the patient last chose; null: never (taking part is the default)' }),
        txId: TxId.optional(),
    })
    .openapi('ResearchPreference');
export const ResearchDimension = z.enum(RESEARCH_DIMENSIONS).openapi('ResearchDimension', {
    description:
        'category: records per category; hospital: records per custodian; month: records per month created (UTC, YYYY-MM); hospitalsPerPatient: patients by the number of hospitals holding their records',
});
export const StatisticsQuery = z.object({ dimension: ResearchDimension });
const Count = z.number().int().nullable();
export const StatisticsCell = z
    .object({
        value: z.string().openapi({ description: 'The category, MSP ID, month (YYYY-MM) or number of hospitals' }),
        records: Count.openapi({ description: 'Active records; null when suppressed' }),
        patients: Count.openapi({ description: 'Distinct patients; null when suppressed' }),
        suppressed: z.boolean().openapi({ description: 'Fewer than minCellSize patients, or suppressed so that another small cell cannot be derived from the total' }),
    })
    .openapi('StatisticsCell');
export const Statistics = z
    .object({
        queryId: z.string().openapi({ description: 'The logged query (see GET /api/v1/audit/research-queries)' }),
        dimension: ResearchDimension,
        minCellSize: z.number().int().openapi({ description: 'k: cells describing fewer patients are suppressed' }),
        at: Timestamp,
        cells: z.array(StatisticsCell),
        total: z.object({ records: Count, patients: Count, suppressed: z.boolean() }),
        txId: TxId.openapi({ description: 'The transaction that logged the query before it was answered' }),
    })
    .openapi('Statistics');
export const ResearchQueriesQuery = z.object({
    limit: z.coerce.number().int().min(1).max(100).default(50),
    cursor: z.string().min(1).max(512).regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor this list returned').optional(),
});
export const ResearchQueryList = z
    .object({
        queries: z.array(
            z.object({
                queryId: z.string(),
                hospital: MspId,
                researcher: z.string().openapi({ description: "The researcher's pseudonym (token sub)" }),
                dimension: ResearchDimension,
                minCellSize: z.number().int(),
                at: Timestamp,
            }),
        ),
        nextCursor: z.string().nullable(),
    })
    .openapi('ResearchQueryList');

// ---- operations -----------------------------------------------------------------------

export const Health = z
    .object({
        status: z.enum(['ok', 'unavailable']),
        components: z.record(z.string(), z.enum(['up', 'down'])),
        down: z.array(z.string()),
    })
    .openapi('Health');

// ---- vital signs (vitals/) --------------------------------------------------------------

export const VitalsIngested = z
    .object({
        patientId: PatientId,
        samples: z.number().int().openapi({ description: 'Samples stored (every line of the body)' }),
        chunks: z
            .array(
                z.object({
                    recordId: RecordId,
                    start: Timestamp.openapi({ description: 'Start of the time window (inclusive)' }),
                    end: Timestamp.openapi({ description: 'End of the time window (exclusive)' }),
                    samples: z.number().int(),
                    txId: TxId,
                }),
            )
            .openapi({ description: 'One encrypted record of category vitals per time window, oldest first' }),
    })
    .openapi('VitalsIngested');
