/* The operations of DESIGN §7: paths, roles, statuses and bodies. */
import { BREAK_GLASS_ENDPOINTS } from './break-glass-endpoints.js';
import { endpoint } from './endpoint.js';
import { ListQuery, NEXT_LINK_HEADER } from './pagination.js';
import * as s from './schemas.js';
import { z } from './zod.js';

const json = (description: string, schema: z.ZodType) => ({ description, schema });
/** One page of a paginated list; the next page's address in `Link` (api/pagination.ts). */
const page = (description: string, schema: z.ZodType) => ({ description: `${description}: one page (\`limit\`, default 50); the next in \`Link: <...>; rel="next"\``, schema, headers: NEXT_LINK_HEADER });

export const health = endpoint({
    operationId: 'getHealth',
    method: 'get',
    path: '/health',
    summary: 'Fabric, Kubo and Cluster reachability',
    tags: ['operations'],
    request: {},
    responses: {
        200: json('Every dependency answers', s.Health),
        503: { description: 'A dependency is down (problem+json with `components` and `down`)', schema: s.Problem, contentType: 'application/problem+json' },
    },
    problems: [],
});

export const openapi = endpoint({
    operationId: 'getOpenApi',
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    tags: ['operations'],
    request: {},
    responses: { 200: { description: 'OpenAPI 3.1 document', schema: z.object({}).passthrough() } },
    problems: [],
});

export const metrics = endpoint({
    operationId: 'getMetrics',
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (for a local scraper)',
    tags: ['operations'],
    request: {},
    responses: { 200: { description: 'Prometheus text exposition', schema: z.string(), contentType: 'text/plain' } },
    problems: [],
});

export const listHospitals = endpoint({
    operationId: 'listHospitals',
    method: 'get',
    path: '/api/v1/hospitals',
    summary: 'Consortium members, from the ledger',
    tags: ['hospitals'],
    roles: ['clinician', 'patient', 'auditor', 'admin', 'researcher'],
    request: {},
    responses: { 200: json('Members', s.HospitalList) },
    problems: [503],
});

export const registerPatient = endpoint({
    operationId: 'registerPatient',
    method: 'post',
    path: '/api/v1/patients',
    summary: 'Register a patient pseudonym with this hospital as home',
    tags: ['patients'],
    roles: ['clinician', 'admin'],
    request: { body: s.RegisterPatientBody },
    responses: { 201: json('Registered', s.RegisteredPatient) },
    problems: [400, 409, 503],
});

export const storeRecord = endpoint({
    operationId: 'storeRecord',
    method: 'post',
    path: '/api/v1/patients/{patientId}/records',
    summary: 'Store a document for a patient (encrypted, in IPFS, named on the ledger)',
    description:
        "Either the raw body is the document, with its real Content-Type (`curl --data-binary @report.pdf -H 'Content-Type: application/pdf'`), " +
        'or a multipart/form-data body carries it as exactly one file part (`curl -F file=@report.pdf`), whose filename and Content-Type are kept ' +
        '(a `fileName` in the query wins). Content-Type and file name are kept inside the encrypted blob only. No Content-Type, or ' +
        'application/x-www-form-urlencoded (what `curl -d` sends without `-H`), is 415.',
    tags: ['records'],
    roles: ['clinician'],
    request: {
        params: s.PatientParams,
        query: s.StoreRecordQuery,
        rawBody: { description: 'The document bytes, streamed; up to the configured limit', multipart: true },
    },
    responses: { 201: json('Stored', s.StoredRecord) },
    problems: [400, 404, 409, 410, 413, 415, 503],
});

export const listRecords = endpoint({
    operationId: 'listRecords',
    method: 'get',
    path: '/api/v1/patients/{patientId}/records',
    summary: "The patient's records the caller may see (metadata)",
    tags: ['records'],
    roles: ['clinician', 'patient'],
    request: { params: s.PatientParams, query: ListQuery },
    responses: { 200: page('Records', s.RecordList) },
    problems: [400, 404, 503],
});

export const getRecord = endpoint({
    operationId: 'getRecord',
    method: 'get',
    path: '/api/v1/records/{recordId}',
    summary: 'Record metadata',
    tags: ['records'],
    roles: ['clinician', 'patient', 'auditor'],
    request: { params: s.RecordParams },
    responses: { 200: json('Metadata', s.RecordMeta) },
    problems: [400, 404, 503],
});

export const getRecordContent = endpoint({
    operationId: 'getRecordContent',
    method: 'get',
    path: '/api/v1/records/{recordId}/content',
    summary: 'The original document bytes; the access is logged on the ledger first',
    description:
        'Served with the stored Content-Type (never one guessed from the file name), `X-Content-Type-Options: nosniff` and ' +
        "`Content-Security-Policy: sandbox; default-src 'none'`; active types (HTML, SVG, XML, scripts, anything not plainly passive) and " +
        'documents with a file name come as `Content-Disposition: attachment`.',
    tags: ['records'],
    roles: ['clinician', 'patient'],
    request: { params: s.RecordParams, headers: s.PurposeHeader },
    responses: {
        200: { description: 'The document, with its original Content-Type', schema: z.string().openapi({ format: 'binary' }), contentType: '*/*' },
    },
    problems: [400, 404, 410, 503],
});

export const verifyRecord = endpoint({
    operationId: 'verifyRecord',
    method: 'get',
    path: '/api/v1/records/{recordId}/verify',
    summary: 'Check that the blob in IPFS is the one the ledger names',
    description: '`state` tells an erased record (crypto-shredded on purpose) from a missing or corrupted blob; `intact` is `state == "intact"`.',
    tags: ['records', 'audit'],
    roles: ['clinician', 'auditor'],
    request: { params: s.RecordParams },
    responses: { 200: json('Verification', s.RecordVerification) },
    problems: [400, 404, 503],
});

export const eraseRecord = endpoint({
    operationId: 'eraseRecord',
    method: 'delete',
    path: '/api/v1/records/{recordId}',
    summary: 'Erase a record (crypto-shredding): its content is 410 everywhere afterwards',
    tags: ['records'],
    roles: ['patient'],
    request: { params: s.RecordParams },
    responses: { 200: json('Erased', s.ErasedRecord) },
    problems: [400, 404, 410, 503],
});

export const grantConsent = endpoint({
    operationId: 'grantConsent',
    method: 'post',
    path: '/api/v1/patients/{patientId}/consents',
    summary: 'Grant a hospital access to the patient\'s records',
    tags: ['consents'],
    roles: ['patient'],
    request: { params: s.PatientParams, body: s.GrantConsentBody },
    responses: { 201: json('Granted', s.Consent) },
    problems: [400, 404, 409, 503],
});

export const listConsents = endpoint({
    operationId: 'listConsents',
    method: 'get',
    path: '/api/v1/patients/{patientId}/consents',
    summary: "The patient's consents",
    tags: ['consents'],
    roles: ['patient', 'clinician'],
    request: { params: s.PatientParams, query: ListQuery },
    responses: { 200: page('Consents', s.ConsentList) },
    problems: [400, 404, 503],
});

export const revokeConsent = endpoint({
    operationId: 'revokeConsent',
    method: 'delete',
    path: '/api/v1/consents/{consentId}',
    summary: 'Revoke a consent; envelope reads fail at once',
    tags: ['consents'],
    roles: ['patient'],
    request: { params: s.ConsentParams },
    responses: { 200: json('Revoked', s.Consent) },
    problems: [400, 404, 409, 503],
});

export const createAccessRequest = endpoint({
    operationId: 'createAccessRequest',
    method: 'post',
    path: '/api/v1/access-requests',
    summary: "Ask for access to another hospital's patient; the reason is a code (free text is refused: it would stay on the ledger)",
    tags: ['access requests'],
    roles: ['clinician'],
    request: { body: s.CreateAccessRequestBody },
    responses: { 201: json('Pending', s.AccessRequest) },
    problems: [400, 404, 409, 503],
});

export const listAccessRequests = endpoint({
    operationId: 'listAccessRequests',
    method: 'get',
    path: '/api/v1/patients/{patientId}/access-requests',
    summary: 'Access requests for the patient',
    tags: ['access requests'],
    roles: ['patient', 'clinician'],
    request: { params: s.PatientParams, query: ListQuery },
    responses: { 200: page('Requests', s.AccessRequestList) },
    problems: [400, 404, 503],
});

export const approveAccessRequest = endpoint({
    operationId: 'approveAccessRequest',
    method: 'post',
    path: '/api/v1/access-requests/{requestId}/approve',
    summary: "Approve: creates a consent with the request's purpose and scope",
    tags: ['access requests'],
    roles: ['patient'],
    request: { params: s.AccessRequestParams, body: s.ApproveBody },
    responses: { 200: json('Approved', s.Decision) },
    problems: [400, 404, 409, 503],
});

export const rejectAccessRequest = endpoint({
    operationId: 'rejectAccessRequest',
    method: 'post',
    path: '/api/v1/access-requests/{requestId}/reject',
    summary: 'Reject an access request',
    tags: ['access requests'],
    roles: ['patient'],
    request: { params: s.AccessRequestParams, body: s.RejectBody },
    responses: { 200: json('Rejected', s.Decision) },
    problems: [400, 404, 409, 503],
});

export const auditRecord = endpoint({
    operationId: 'auditRecord',
    method: 'get',
    path: '/api/v1/audit/records/{recordId}',
    summary: 'Every event on the record: creation, each access, consents, erasure',
    tags: ['audit'],
    roles: ['auditor'],
    request: { params: s.RecordParams, query: ListQuery },
    responses: { 200: page('Events, oldest first', s.AuditTrail) },
    problems: [400, 404, 503],
});

export const auditPatient = endpoint({
    operationId: 'auditPatient',
    method: 'get',
    path: '/api/v1/audit/patients/{patientId}',
    summary: 'Every event for the patient',
    tags: ['audit'],
    roles: ['auditor', 'patient'],
    request: { params: s.PatientParams, query: ListQuery },
    responses: { 200: page('Events, oldest first', s.AuditTrail) },
    problems: [400, 404, 503],
});

export const setResearchPreference = endpoint({
    operationId: 'setResearchPreference',
    method: 'put',
    path: '/api/v1/patients/{patientId}/research-preference',
    summary: 'The patient opts out of (or back into) research statistics, at their home hospital',
    description: 'Honoured by every statistics query from the moment it is committed: the opted-out patient\'s records are counted nowhere.',
    tags: ['research'],
    roles: ['patient'],
    request: { params: s.PatientParams, body: s.ResearchPreferenceBody },
    responses: { 200: json('The preference now on the ledger', s.ResearchPreference) },
    problems: [400, 404, 503],
});

export const getResearchPreference = endpoint({
    operationId: 'getResearchPreference',
    method: 'get',
    path: '/api/v1/patients/{patientId}/research-preference',
    summary: "The patient's research preference (patient, or the home hospital's clinicians)",
    tags: ['research'],
    roles: ['patient', 'clinician'],
    request: { params: s.PatientParams },
    responses: { 200: json('Preference', s.ResearchPreference) },
    problems: [400, 404, 503],
});

export const researchStatistics = endpoint({
    operationId: 'researchStatistics',
    method: 'get',
    path: '/api/v1/research/statistics',
    summary: 'Aggregate counts over ledger metadata, small cells suppressed, opted-out patients left out',
    description:
        'The query is logged on the ledger (who, which dimension, when) before the chaincode computes the answer. ' +
        'No document is decrypted; erased records are not counted. See the README\'s privacy model for what suppression does and does not protect.',
    tags: ['research'],
    roles: ['researcher'],
    request: { query: s.StatisticsQuery },
    responses: { 200: json('Counts', s.Statistics) },
    problems: [400, 503],
});

export const listResearchQueries = endpoint({
    operationId: 'listResearchQueries',
    method: 'get',
    path: '/api/v1/audit/research-queries',
    summary: "Every hospital's logged research queries, oldest first (paginated)",
    tags: ['audit', 'research'],
    roles: ['auditor'],
    request: { query: s.ResearchQueriesQuery },
    responses: { 200: json('Queries', s.ResearchQueryList) },
    problems: [400, 503],
});

export const ingestVitals = endpoint({
    operationId: 'ingestVitals',
    method: 'post',
    path: '/api/v1/patients/{patientId}/vitals',
    summary: 'Post vital-sign samples (NDJSON); stored as encrypted records of category vitals, one per time window',
    description:
        'One sample a line: `{"t":"2026-01-31T12:00:00.000Z","code":"heart-rate","value":72,"unit":"/min"}` (`values` instead of `value` for a ' +
        'waveform burst such as an ECG lead; the unit is the code\'s UCUM unit; no other fields). Timestamps must not decrease. The whole ' +
        'body is checked first: a bad line is 400 naming it, more bytes or samples than configured is 413, and nothing is written. Then the ' +
        'samples go to live views at this hospital and each time window (config `vitals.windowSeconds`, default 60) is stored through the ' +
        'ordinary record path. Content type application/x-ndjson.',
    tags: ['vitals'],
    roles: ['clinician'],
    request: { params: s.PatientParams, rawBody: { description: 'NDJSON samples', contentTypes: ['application/x-ndjson'] } },
    responses: { 201: json('Stored, one record per window', s.VitalsIngested) },
    problems: [400, 404, 413, 415, 503],
});

export const liveVitals = endpoint({
    operationId: 'liveVitals',
    method: 'get',
    path: '/api/v1/patients/{patientId}/vitals/live',
    summary: "Live view of the patient's vital signs (Server-Sent Events); one access entry per session, committed before the first sample",
    description:
        "Allowed on the access rule for a read of the patient's latest vitals chunk with the X-Purpose-Of-Use purpose (chaincode-judged); that read's " +
        'access entry audits the session. Events: `open` (accessTxId, basis), `samples` ({samples:[...]}), `end` ({reason: consent-revoked, ' +
        'access-ended, overflow, max-duration, shutdown}), and keep-alive comments. Samples posted at this hospital arrive at once; those posted ' +
        "at another arrive once their chunk is committed and this hospital's key envelope delivered.",
    tags: ['vitals'],
    roles: ['clinician'],
    request: { params: s.PatientParams, headers: s.PurposeHeader },
    responses: { 200: { description: 'text/event-stream of samples', schema: z.string(), contentType: 'text/event-stream' } },
    problems: [400, 404, 410, 503],
});

export const ALL_ENDPOINTS = [
    health,
    openapi,
    metrics,
    listHospitals,
    registerPatient,
    storeRecord,
    listRecords,
    getRecord,
    getRecordContent,
    verifyRecord,
    eraseRecord,
    grantConsent,
    listConsents,
    revokeConsent,
    createAccessRequest,
    listAccessRequests,
    approveAccessRequest,
    rejectAccessRequest,
    auditRecord,
    auditPatient,
    ...BREAK_GLASS_ENDPOINTS,
    setResearchPreference,
    getResearchPreference,
    researchStatistics,
    listResearchQueries,
    ingestVitals,
    liveVitals,
] as const;
