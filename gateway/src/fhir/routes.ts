/*
 * FHIR R4 at /fhir/R4 (DESIGN §9): IHE MHD documents, Consent and AuditEvent as a thin
 * mapping over the same services as REST v1. Same token middleware, rate limits, roles,
 * need-to-know (the services and chaincode decide), audit before disclosure and encryption;
 * only the shapes differ. Errors are OperationOutcomes (outcome.ts).
 */
import { MSP_ID, PATIENT_ID, UUID } from '@ehr/ledger-model';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, type Router } from 'express';
import type { Bundle, BundleEntry, Consent as FhirConsent, DocumentReference, FhirResource, Reference } from 'fhir/r4.js';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { essence, hasBody, sendStoredDocument } from '../api/media.js';
import { authenticate, requireRole } from '../auth/middleware.js';
import type { RateLimiters } from '../auth/rate-limit.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { CATEGORIES, type Actor, type Category, type Purpose, type Role } from '../domain.js';
import { notFoundHandler } from '../http/error-handler.js';
import { BadRequestError, NotFoundError, ProblemError, UnsupportedMediaTypeError, type FieldIssue } from '../http/problem.js';
import type { Ledger } from '../ports.js';
import type { AuditService } from '../services/audit.js';
import type { ConsentService } from '../services/consents.js';
import type { RecordService, RecordView } from '../services/records.js';
import { MAX_VITALS_CHUNKS, RESOURCES, RESULT_PARAMS, TRANSACTION_ROLES, capabilityStatement, type ResourceSupport } from './capability.js';
import {
    CATEGORY_SYSTEM,
    MSP_ID_SYSTEM,
    PATIENT_ID_SYSTEM,
    PURPOSE_HELP,
    RECORD_ID_SYSTEM,
    categoryOf,
    patientIdOfToken,
    purposeOf,
    purposeOfCoding,
} from './codes.js';
import { auditEvent, consentResource, documentReference, searchset, type DocumentFacts } from './mappers.js';
import { codeMatches, observation } from './observations.js';
import { FHIR_JSON, fhirErrorHandler } from './outcome.js';
import { readSamples } from '../vitals/vitals-service.js';
import { validateResource } from './validator.js';
import { pageAfter, searchPaging, withTieRanks, type SearchPaging } from './paging.js';
import type { PageLimits } from '../api/pagination.js';

export interface FhirDependencies {
    records: RecordService;
    consents: ConsentService;
    audit: AuditService;
    /** For the creating transaction of records shown (identifier), as REST verify does. */
    ledger: Pick<Ledger, 'locateRecord'>;
    mspId: string;
    verifyToken: TokenVerifier;
    limiters: RateLimiters;
    /** Largest document; an ITI-65 Bundle may be its base64 plus room for the resources. */
    bodyLimitBytes: number;
    /** The shared problem+json error handler (denial logging, metrics); its body becomes an OperationOutcome. */
    errorHandler: ErrorRequestHandler;
    /** Page sizes of searches (`_count`): the REST lists' (config server.lists). */
    paging: PageLimits;
}

export const FHIR_BASE_PATH = '/fhir/R4';
const FHIR_TYPES = ['application/fhir+json', 'application/json'];
const BUNDLE_OVERHEAD_BYTES = 64 * 1024;

/** The absolute base of this endpoint as the client reached it (for fullUrl and attachment URLs). */
function baseOf(req: Request): string {
    return `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`;
}

function send(res: Response, status: number, resource: FhirResource): void {
    res.status(status);
    res.setHeader('Content-Type', `${FHIR_JSON}; charset=utf-8`);
    res.send(JSON.stringify(resource));
}

const actorOf = (res: Response) => res.locals.actor as Actor;

function isFhirJson(type: string | undefined): boolean {
    return FHIR_TYPES.includes(essence(type));
}

/** FHIR bodies are application/fhir+json (or application/json); anything else is 415, before a byte is parsed. */
function requireFhirJson(): RequestHandler {
    return (req, _res, next) => {
        const type = req.get('content-type');
        if (type !== undefined && isFhirJson(type)) return next();
        if (type === undefined && !hasBody(req)) {
            throw new BadRequestError('this interaction takes a FHIR resource as its body (Content-Type: application/fhir+json)');
        }
        throw new UnsupportedMediaTypeError(
            `${req.method} ${req.baseUrl + req.path} takes a FHIR JSON resource with Content-Type: application/fhir+json; this request had ${type === undefined ? 'no Content-Type' : `Content-Type ${JSON.stringify(type.slice(0, 100))}`}. Nothing was written.`,
            { accepted: FHIR_TYPES },
        );
    };
}

/** `_format` asks for JSON or nothing: this endpoint speaks no XML. */
function requireJsonFormat(): RequestHandler {
    return (req, _res, next) => {
        const format = req.query._format;
        if (format === undefined) return next();
        const value = String(format).toLowerCase();
        if (['json', 'application/json', 'application/fhir+json'].includes(value)) return next();
        throw new ProblemError(406, 'not-acceptable', 'Not acceptable', `_format ${JSON.stringify(value.slice(0, 50))} is not served: this endpoint speaks application/fhir+json only`, { rule: 'media-type.format' });
    };
}

function strictHandling(req: Request): boolean {
    return /(?:^|[;,\s])handling\s*=\s*strict\b/i.test(req.get('prefer') ?? '');
}

/** The query's parameters, as lists; unknown ones refused under Prefer: handling=strict, else ignored. */
function searchQuery(req: Request, known: readonly string[]): Map<string, string[]> {
    const params = new Map<string, string[]>();
    const unknown: string[] = [];
    for (const [name, raw] of Object.entries(req.query as Record<string, unknown>)) {
        const values = (Array.isArray(raw) ? raw : [raw]).map(String);
        const base = name.replace(/:(exact|missing|not|text|identifier)$/, '');
        if (known.includes(name) || (RESULT_PARAMS as readonly string[]).includes(name)) params.set(name, values);
        else if (!known.includes(base)) unknown.push(name);
        else throw new BadRequestError(`search modifier ${name} is not supported`, [{ field: `query.${name}`, message: 'modifier not supported' }]);
    }
    if (unknown.length && strictHandling(req)) {
        throw new BadRequestError(
            `unknown search parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (Prefer: handling=strict); supported: ${[...known, ...RESULT_PARAMS].join(', ')}`,
            unknown.map((u) => ({ field: `query.${u}`, message: 'unknown search parameter' })),
        );
    }
    return params;
}

function single(params: Map<string, string[]>, name: string): string | undefined {
    const values = params.get(name);
    if (!values) return undefined;
    if (values.length > 1) throw new BadRequestError(`${name} may be given once`, [{ field: `query.${name}`, message: 'repeated' }]);
    return values[0];
}

function paging(req: Request, resourceType: string, params: Map<string, string[]>, limits: PageLimits): SearchPaging {
    // Offsets were how this endpoint paged once; ignoring one would answer the first page again.
    if (req.query._getpagesoffset !== undefined) {
        throw new BadRequestError('_getpagesoffset is not supported: follow the Bundle.link with relation next (it carries _cursor)', [{ field: 'query._getpagesoffset', message: 'use _cursor' }]);
    }
    return searchPaging(`${baseOf(req)}${req.path === '/' ? '' : req.path}`, resourceType, params, limits);
}

function patientOf(params: Map<string, string[]>, required: boolean): string | undefined {
    const a = single(params, 'patient.identifier');
    const b = single(params, 'patient');
    if (a !== undefined && b !== undefined) throw new BadRequestError('give patient or patient.identifier, not both');
    const value = a ?? b;
    if (value === undefined) {
        if (required) throw new BadRequestError(`this search needs the patient: patient.identifier=${PATIENT_ID_SYSTEM}|<patient ID>`, [{ field: 'query.patient.identifier', message: 'required' }]);
        return undefined;
    }
    const id = patientIdOfToken(value, a !== undefined ? 'patient.identifier' : 'patient');
    return checkedPatientId(id, a !== undefined ? 'query.patient.identifier' : 'query.patient');
}

function checkedPatientId(id: string, field: string): string {
    if (!PATIENT_ID.pattern.test(id)) throw new BadRequestError(`patient ID must be ${PATIENT_ID.description}`, [{ field, message: `must be ${PATIENT_ID.description}` }]);
    return id;
}

function checkedUuid(id: string, what: string): string {
    if (!UUID.pattern.test(id)) throw new NotFoundError(`no ${what} ${id.slice(0, 64)}: ${what} ids are UUIDs`, { rule: 'gateway.not-found' });
    return id;
}

/** FHIR date search on an instant: prefix and the value's own precision (YYYY .. full dateTime). */
function dateMatcher(value: string): (instant: string) => boolean {
    const m = /^(eq|ne|gt|lt|ge|le)?(\d{4}(?:-\d{2}(?:-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?)?)$/.exec(value);
    if (!m) throw new BadRequestError(`date ${JSON.stringify(value.slice(0, 40))} is not a FHIR date search value (e.g. ge2026-01-01)`, [{ field: 'query.date', message: 'prefix + date' }]);
    const prefix = m[1] ?? 'eq';
    const v = m[2];
    let start: number;
    let end: number;
    if (v.length === 4) {
        start = Date.UTC(Number(v), 0, 1);
        end = Date.UTC(Number(v) + 1, 0, 1);
    } else if (v.length === 7) {
        start = Date.UTC(Number(v.slice(0, 4)), Number(v.slice(5, 7)) - 1, 1);
        end = Date.UTC(Number(v.slice(0, 4)), Number(v.slice(5, 7)), 1);
    } else if (v.length === 10) {
        start = Date.parse(`${v}T00:00:00Z`);
        end = start + 86_400_000;
    } else {
        start = Date.parse(/(?:Z|[+-]\d{2}:\d{2})$/.test(v) ? v : `${v}Z`);
        end = start + (/:\d{2}:\d{2}/.test(v) ? 1000 : 60_000);
    }
    if (Number.isNaN(start)) throw new BadRequestError(`date ${JSON.stringify(value)} is not a valid date`, [{ field: 'query.date', message: 'invalid date' }]);
    return (instant) => {
        const t = Date.parse(instant);
        switch (prefix) {
            case 'ne':
                return t < start || t >= end;
            case 'gt':
                return t >= end;
            case 'lt':
                return t < start;
            case 'ge':
                return t >= start;
            case 'le':
                return t < end;
            default:
                return t >= start && t < end;
        }
    };
}

/**
 * The purpose of use of a read, carried as FHIR carries security context: the X-Purpose-Of-Use
 * header or the `_security` parameter, each a PurposeOfUse code (TREAT, HRESCH, ...; see codes.ts).
 */
function purposeOfRead(req: Request): { purpose: Purpose; defaulted: boolean } {
    const header = req.get('x-purpose-of-use');
    const query = req.query._security;
    const fromQuery = query === undefined ? undefined : (Array.isArray(query) ? query : [query]).map(String);
    if (fromQuery && fromQuery.length > 1) throw new BadRequestError('_security may be given once', [{ field: 'query._security', message: 'repeated' }]);
    const candidates: { value: string; field: string }[] = [];
    if (header !== undefined) candidates.push({ value: header.trim(), field: 'headers.x-purpose-of-use' });
    if (fromQuery) candidates.push({ value: fromQuery[0], field: 'query._security' });
    if (!candidates.length) return { purpose: 'treatment', defaulted: true };
    const purposes = candidates.map((c) => {
        const p = purposeOf(c.value);
        if (!p) throw new BadRequestError(`purpose of use ${JSON.stringify(c.value.slice(0, 80))} is not ${PURPOSE_HELP}`, [{ field: c.field, message: 'unknown purpose of use' }]);
        return p;
    });
    if (new Set(purposes).size > 1) throw new BadRequestError('X-Purpose-Of-Use and _security name different purposes of use', [{ field: 'query._security', message: 'conflicts with X-Purpose-Of-Use' }]);
    return { purpose: purposes[0], defaulted: false };
}

/** Schema-checks a resource that came in; 400 with each issue as an OperationOutcome issue. */
function assertValid(resource: unknown, expected: string): void {
    const type = (resource as { resourceType?: unknown } | null)?.resourceType;
    if (type !== expected) {
        throw new BadRequestError(`this interaction takes a ${expected}; the body is ${typeof type === 'string' ? `a ${type.slice(0, 64)}` : 'not a FHIR resource (no resourceType)'}. Nothing was written.`, [
            { field: 'resourceType', message: `expected ${expected}` },
        ]);
    }
    const issues = validateResource(resource);
    if (issues.length) {
        throw new BadRequestError(
            `the ${expected} is not valid FHIR R4 (${issues.length} issue${issues.length > 1 ? 's' : ''}). Nothing was written.`,
            issues.slice(0, 20).map((i): FieldIssue => ({ field: i.path, message: i.message })),
        );
    }
}

/** A subject or patient reference naming our patient ID by identifier (or as a conditional reference). */
function patientOfReference(ref: Reference | undefined, field: string): string {
    if (ref?.identifier) {
        if (ref.identifier.system !== PATIENT_ID_SYSTEM || !ref.identifier.value) {
            throw new BadRequestError(`${field}.identifier must have system ${PATIENT_ID_SYSTEM} and our patient ID as value`, [{ field: `${field}.identifier`, message: `system ${PATIENT_ID_SYSTEM}` }]);
        }
        return checkedPatientId(ref.identifier.value, `${field}.identifier.value`);
    }
    const conditional = ref?.reference && /^Patient\?identifier=(.+)$/.exec(ref.reference);
    if (conditional) return checkedPatientId(patientIdOfToken(decodeURIComponent(conditional[1]), `${field}.reference`), `${field}.reference`);
    throw new BadRequestError(`${field} is required: {"identifier": {"system": "${PATIENT_ID_SYSTEM}", "value": "<patient ID>"}} (our patient IDs are identifiers, never Patient ids)`, [
        { field, message: 'missing patient identifier' },
    ]);
}

function recordIdOfReference(reference: string | undefined, field: string): string {
    const m = reference && /^(?:.*\/)?DocumentReference\/([^/]+)$/.exec(reference);
    if (!m || !UUID.pattern.test(m[1])) throw new BadRequestError(`${field} must be DocumentReference/<record ID>`, [{ field, message: 'DocumentReference/<uuid>' }]);
    return m[1];
}

function categoryOfDocument(doc: DocumentReference): Category {
    const codings = (doc.category ?? []).flatMap((c) => c.coding ?? []);
    for (const c of codings) {
        const cat = c.code ? categoryOf(c.system ? `${c.system}|${c.code}` : c.code) : undefined;
        if (cat) return cat;
    }
    throw new BadRequestError(`DocumentReference.category needs a coding of ${CATEGORY_SYSTEM} (${CATEGORIES.join(', ')})`, [
        { field: 'DocumentReference.category', message: `a coding of ${CATEGORY_SYSTEM}` },
    ]);
}

export function createFhirRouter(deps: FhirDependencies): Router {
    const { records, consents, audit } = deps;
    const router = express.Router();
    const auth = (cls: 'reads' | 'writes' | 'uploads', roles: Role[]): RequestHandler[] => [
        authenticate(deps.verifyToken, { onFailure: deps.limiters.authFailures }),
        deps.limiters[cls],
        requireRole(...roles),
    ];
    const support = (type: ResourceSupport['type']) => RESOURCES.find((r) => r.type === type)!;
    const roles = (type: ResourceSupport['type'], interaction: keyof ResourceSupport['interactions']) => support(type).interactions[interaction]!;
    const known = (type: ResourceSupport['type']) => support(type).searchParams.map((p) => p.name);
    const jsonBody = (limit: number) => express.json({ limit, strict: true, type: (req) => isFhirJson(req.headers['content-type']) });
    const startedAt = new Date().toISOString();

    router.use(requireJsonFormat());

    // ---- capabilities ----------------------------------------------------------------------
    router.get('/metadata', deps.limiters.public, (req, res) => send(res, 200, capabilityStatement({ baseUrl: baseOf(req), mspId: deps.mspId, date: startedAt, paging: deps.paging })));

    // ---- documents (IHE MHD) ---------------------------------------------------------------
    /** Record views with what a DocumentReference shows beyond them (creating tx, superseded). */
    const documents = async (actor: Actor, shown: RecordView[], all: RecordView[], base: string, facts: Map<string, DocumentFacts> = new Map()) => {
        const superseded = new Set(all.map((r) => r.supersedes).filter((s): s is string => !!s));
        return Promise.all(
            shown.map(async (r) => {
                const txId = await deps.ledger.locateRecord(actor, r.recordId).then((l) => l.txId, () => undefined);
                return documentReference(r, base, { ...facts.get(r.recordId), ...(txId ? { txId } : {}), superseded: superseded.has(r.recordId) });
            }),
        );
    };

    router.get('/DocumentReference', ...auth('reads', roles('DocumentReference', 'search-type')), async (req, res) => {
        const params = searchQuery(req, known('DocumentReference'));
        const patientId = patientOf(params, true)!;
        const page = paging(req, 'DocumentReference', params, deps.paging);
        const categories = params.get('category')?.flatMap((v) => v.split(',')).map((v) => {
            const c = categoryOf(v);
            if (!c) throw new BadRequestError(`category ${JSON.stringify(v.slice(0, 60))} is not one of ${CATEGORY_SYSTEM}|${CATEGORIES.join(', ')}`, [{ field: 'query.category', message: 'unknown category' }]);
            return c;
        });
        const dates = (params.get('date') ?? []).map(dateMatcher);
        const statuses = params.get('status')?.flatMap((v) => v.split(','));
        const actor = actorOf(res);
        const all = await records.list(actor, patientId);
        const superseded = new Set(all.map((r) => r.supersedes).filter((s): s is string => !!s));
        const statusOf = (r: RecordView) => (r.status === 'erased' ? 'entered-in-error' : superseded.has(r.recordId) ? 'superseded' : 'current');
        const matching = all
            .filter((r) => !categories || categories.includes(r.category))
            .filter((r) => dates.every((d) => d(r.createdAt)))
            .filter((r) => !statuses || statuses.includes(statusOf(r)));
        // Newest first; only the page is mapped (each DocumentReference looks up its creating transaction).
        const result = pageAfter(matching.map((r) => ({ item: r, key: [r.createdAt, r.recordId] })), ['desc', 'asc'], page);
        const mapped = await documents(actor, result.page, all, baseOf(req));
        send(res, 200, searchset(mapped, baseOf(req), result));
    });

    // Vital signs: each sample of the newest vitals chunks the caller may read, as an Observation.
    router.get('/Observation', ...auth('reads', roles('Observation', 'search-type')), async (req, res) => {
        const params = searchQuery(req, known('Observation'));
        const patientId = patientOf(params, true)!;
        const page = paging(req, 'Observation', params, deps.paging);
        const codes = params.get('code')?.flatMap((v) => v.split(','));
        const dates = (params.get('date') ?? []).map(dateMatcher);
        const { purpose, defaulted } = purposeOfRead(req);
        const actor = actorOf(res);
        const chunks = (await records.list(actor, patientId))
            .filter((r) => r.category === 'vitals' && r.status === 'active')
            .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
            .slice(0, MAX_VITALS_CHUNKS);
        const matching: { item: ReturnType<typeof observation>; key: string[] }[] = [];
        for (const chunk of chunks) {
            // A read of the chunk: the access rule for purpose, and its entry committed first.
            const opened = await records.open(actor, chunk.recordId, purpose, { purposeDefaulted: defaulted });
            const samples = await readSamples(opened.body);
            for (const [i, sample] of samples.entries()) {
                if (codes && !codes.some((c) => codeMatches(sample, c))) continue;
                if (!dates.every((d) => d(sample.t))) continue;
                matching.push({ item: observation(sample, i, chunk.recordId, patientId), key: [sample.t, chunk.recordId, String(i).padStart(9, '0')] });
            }
        }
        // Newest sample first; a chunk's samples of one instant in the order they were sent.
        const result = pageAfter(matching, ['desc', 'asc', 'asc'], page);
        send(res, 200, searchset(result.page, baseOf(req), result));
    });

    router.get('/DocumentReference/:id', ...auth('reads', roles('DocumentReference', 'read')), async (req, res) => {
        const id = checkedUuid(String(req.params.id), 'DocumentReference');
        const actor = actorOf(res);
        const record = await records.get(actor, id);
        // Whether a newer record replaces it: the patient's list, where the caller may see it.
        const all = await records.list(actor, record.patientId).catch(() => [record]);
        const [doc] = await documents(actor, [record], all, baseOf(req));
        send(res, 200, doc);
    });

    router.get('/Binary/:id', ...auth('reads', roles('Binary', 'read')), async (req, res) => {
        const id = checkedUuid(String(req.params.id), 'Binary');
        const { purpose, defaulted } = purposeOfRead(req);
        const opened = await records.open(actorOf(res), id, purpose, { purposeDefaulted: defaulted });
        // The bytes as stored (ITI-68), never wrapped in a Binary resource, so they stream.
        await sendStoredDocument(res, opened);
    });

    // ITI-65: a transaction Bundle with one DocumentReference and its Binary (or inline data).
    router.post(
        '/',
        ...auth('uploads', TRANSACTION_ROLES),
        requireFhirJson(),
        jsonBody(Math.ceil((deps.bodyLimitBytes * 4) / 3) + BUNDLE_OVERHEAD_BYTES),
        async (req, res) => {
            const bundle = req.body as Bundle;
            assertValid(bundle, 'Bundle');
            if (bundle.type !== 'transaction') {
                throw new BadRequestError(`Bundle.type must be transaction (ITI-65 Provide Document Bundle); got ${bundle.type}`, [{ field: 'Bundle.type', message: 'transaction' }]);
            }
            const entries = bundle.entry ?? [];
            const of = (type: string) => entries.map((e, i) => ({ e, i })).filter(({ e }) => e.resource?.resourceType === type);
            const docs = of('DocumentReference');
            const binaries = of('Binary');
            const lists = of('List');
            const others = entries.filter((e) => !['DocumentReference', 'Binary', 'List'].includes(e.resource?.resourceType ?? ''));
            if (others.length || entries.some((e) => !e.resource)) {
                throw new BadRequestError('an ITI-65 Bundle holds one DocumentReference, its Binary and optionally a SubmissionSet List: nothing else', [{ field: 'Bundle.entry', message: 'unsupported entry' }]);
            }
            if (docs.length !== 1) throw new BadRequestError(`the Bundle holds ${docs.length} DocumentReferences: store one document per transaction`, [{ field: 'Bundle.entry', message: 'exactly one DocumentReference' }]);
            if (binaries.length > 1 || lists.length > 1) throw new BadRequestError('at most one Binary and one List per transaction', [{ field: 'Bundle.entry', message: 'too many' }]);
            for (const { e, i } of [...docs, ...binaries, ...lists]) {
                if (e.request && (e.request.method !== 'POST' || !e.request.url?.startsWith(e.resource!.resourceType))) {
                    throw new BadRequestError(`Bundle.entry[${i}].request must be POST ${e.resource!.resourceType}`, [{ field: `Bundle.entry[${i}].request`, message: `POST ${e.resource!.resourceType}` }]);
                }
            }
            const doc = docs[0].e.resource as DocumentReference;
            if (doc.status !== 'current') throw new BadRequestError('DocumentReference.status must be current', [{ field: 'DocumentReference.status', message: 'current' }]);
            const patientId = patientOfReference(doc.subject, 'DocumentReference.subject');
            const category = categoryOfDocument(doc);
            if (doc.content.length !== 1) throw new BadRequestError('DocumentReference.content must hold one attachment', [{ field: 'DocumentReference.content', message: 'one attachment' }]);
            const attachment = doc.content[0].attachment;
            const binaryEntry = binaries[0]?.e;
            const binary = binaryEntry?.resource as { contentType?: string; data?: string } | undefined;
            let data: string | undefined;
            if (attachment.data !== undefined) {
                data = attachment.data;
            } else if (binary) {
                const target = attachment.url;
                const matches = target !== undefined && (target === binaryEntry?.fullUrl || (binary as { id?: string }).id !== undefined && target.endsWith(`Binary/${(binary as { id?: string }).id}`));
                if (!matches) throw new BadRequestError('DocumentReference.content.attachment.url must name the Binary entry (its fullUrl)', [{ field: 'DocumentReference.content[0].attachment.url', message: 'the Binary entry fullUrl' }]);
                data = binary.data;
            }
            if (data === undefined) throw new BadRequestError('the document is missing: a Binary entry with data, or attachment.data', [{ field: 'DocumentReference.content[0].attachment', message: 'no document bytes' }]);
            const contentType = attachment.contentType ?? binary?.contentType;
            if (!contentType || !essence(contentType)) {
                throw new BadRequestError('the document needs its media type: DocumentReference.content.attachment.contentType (or Binary.contentType), type/subtype', [
                    { field: 'DocumentReference.content[0].attachment.contentType', message: 'a media type (type/subtype)' },
                ]);
            }
            if (essence(contentType) === 'application/x-www-form-urlencoded') throw new UnsupportedMediaTypeError('a document is never application/x-www-form-urlencoded', { rule: 'media-type' });
            const bytes = Buffer.from(data, 'base64');
            if (attachment.size !== undefined && attachment.size !== bytes.length) {
                throw new BadRequestError(`attachment.size says ${attachment.size} bytes; the document has ${bytes.length}`, [{ field: 'DocumentReference.content[0].attachment.size', message: 'does not match the data' }]);
            }
            const sha1 = createHash('sha1').update(bytes).digest('base64');
            if (attachment.hash !== undefined && attachment.hash !== sha1) {
                throw new BadRequestError('attachment.hash (base64 SHA-1) does not match the data', [{ field: 'DocumentReference.content[0].attachment.hash', message: 'does not match the data' }]);
            }
            const title = attachment.title ?? doc.description;
            if (title !== undefined && (title.length < 1 || title.length > 256)) throw new BadRequestError('the title (attachment.title or description) has 1 to 256 characters', [{ field: 'DocumentReference.content[0].attachment.title', message: '1..256 characters' }]);
            const replaces = (doc.relatesTo ?? []).filter((r) => r.code === 'replaces');
            if (replaces.length > 1) throw new BadRequestError('a document replaces at most one other', [{ field: 'DocumentReference.relatesTo', message: 'one replaces' }]);
            if ((doc.relatesTo ?? []).some((r) => r.code !== 'replaces')) throw new BadRequestError('relatesTo supports code replaces only', [{ field: 'DocumentReference.relatesTo', message: 'replaces only' }]);
            const supersedes = replaces[0] ? recordIdOfReference(replaces[0].target.reference, 'DocumentReference.relatesTo.target.reference') : undefined;

            const stored = await records.store(
                actorOf(res),
                { patientId, category, contentType: contentType.trim(), ...(title ? { title } : {}), ...(supersedes ? { supersedes } : {}), limitBytes: deps.bodyLimitBytes },
                Readable.from([bytes]),
            );
            const base = baseOf(req);
            const created = documentReference(
                {
                    recordId: stored.recordId,
                    patientId: stored.patientId,
                    custodian: stored.custodian,
                    cid: stored.cid,
                    ciphertextSize: stored.ciphertextSize,
                    category: stored.category,
                    supersedes: supersedes ?? null,
                    status: 'active',
                    createdAt: stored.createdAt,
                    createdBy: actorOf(res).id,
                },
                base,
                { txId: stored.txId, attachment: { contentType: contentType.trim(), size: stored.plaintextSize, sha1, ...(title ? { title } : {}) } },
            );
            const response: BundleEntry[] = entries.map((e) => {
                switch (e.resource!.resourceType) {
                    case 'DocumentReference':
                        return { response: { status: '201 Created', location: `DocumentReference/${stored.recordId}`, lastModified: stored.createdAt }, resource: created };
                    case 'Binary':
                        return { response: { status: '201 Created', location: `Binary/${stored.recordId}`, lastModified: stored.createdAt } };
                    default:
                        return {
                            response: {
                                status: '200 OK',
                                outcome: { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: 'SubmissionSet accepted; it is not kept as a resource (the DocumentReference is the record)' }] },
                            },
                        };
                }
            });
            res.setHeader('Location', `${base}/DocumentReference/${stored.recordId}`);
            send(res, 200, { resourceType: 'Bundle', type: 'transaction-response', meta: { lastUpdated: stored.createdAt }, entry: response });
        },
    );

    // ---- consent ---------------------------------------------------------------------------
    router.get('/Consent', ...auth('reads', roles('Consent', 'search-type')), async (req, res) => {
        const params = searchQuery(req, known('Consent'));
        const patientId = patientOf(params, true)!;
        const page = paging(req, 'Consent', params, deps.paging);
        const statuses = params.get('status')?.flatMap((v) => v.split(','));
        const list = (await consents.list(actorOf(res), patientId)).map((c) => consentResource(c)).filter((c) => !statuses || statuses.includes(c.status));
        // Oldest grant first, as the patient gave them.
        const result = pageAfter(list.map((c) => ({ item: c, key: [c.dateTime!, c.id!] })), ['asc', 'asc'], page);
        send(res, 200, searchset(result.page, baseOf(req), result));
    });

    /** A consent by ID: a patient's own; anyone else searches by patient (the ledger keys consents by patient). */
    const findConsent = async (actor: Actor, id: string, req: Request) => {
        checkedUuid(id, 'Consent');
        const hinted = typeof req.query['patient.identifier'] === 'string' ? checkedPatientId(patientIdOfToken(req.query['patient.identifier'], 'patient.identifier'), 'query.patient.identifier') : undefined;
        const patientId = actor.role === 'patient' ? actor.id : hinted;
        if (!patientId) {
            throw new NotFoundError(`Consent/${id} is read by its patient; others search Consent?patient.identifier=${PATIENT_ID_SYSTEM}|<patient ID>`, { rule: 'gateway.not-found' });
        }
        const found = (await consents.list(actor, patientId)).find((c) => c.consentId === id);
        if (!found) throw new NotFoundError(`no Consent/${id} here`, { rule: 'gateway.not-found' });
        return found;
    };

    router.get('/Consent/:id', ...auth('reads', roles('Consent', 'read')), async (req, res) => {
        send(res, 200, consentResource(await findConsent(actorOf(res), String(req.params.id), req)));
    });

    router.post('/Consent', ...auth('writes', roles('Consent', 'create')), requireFhirJson(), jsonBody(64 * 1024), async (req, res) => {
        const consent = req.body as FhirConsent;
        assertValid(consent, 'Consent');
        if (consent.status !== 'active') throw new BadRequestError('a new Consent has status active (revoke with status inactive through PUT or $revoke)', [{ field: 'Consent.status', message: 'active' }]);
        const patientId = patientOfReference(consent.patient, 'Consent.patient');
        const p = consent.provision;
        if (!p) throw new BadRequestError('Consent.provision is required: actor (grantee Organization), purpose', [{ field: 'Consent.provision', message: 'required' }]);
        if (p.type !== undefined && p.type !== 'permit') throw new BadRequestError('Consent.provision.type must be permit', [{ field: 'Consent.provision.type', message: 'permit' }]);
        if (p.provision?.length) throw new BadRequestError('nested provisions are not supported', [{ field: 'Consent.provision.provision', message: 'not supported' }]);
        const actors = p.actor ?? [];
        if (actors.length !== 1) throw new BadRequestError('Consent.provision.actor names exactly one grantee Organization', [{ field: 'Consent.provision.actor', message: 'one grantee' }]);
        const ref = actors[0].reference;
        const grantee = ref.identifier?.system === MSP_ID_SYSTEM ? ref.identifier.value : /^Organization\/([^/]+)$/.exec(ref.reference ?? '')?.[1];
        if (!grantee || !MSP_ID.pattern.test(grantee)) {
            throw new BadRequestError(`Consent.provision.actor.reference names the grantee hospital: {"identifier": {"system": "${MSP_ID_SYSTEM}", "value": "<MSP ID>"}}`, [{ field: 'Consent.provision.actor[0].reference', message: 'grantee MSP ID' }]);
        }
        const purposes = (p.purpose ?? []).map((c, i) => {
            const purpose = purposeOfCoding(c);
            if (!purpose) throw new BadRequestError(`Consent.provision.purpose[${i}] is not ${PURPOSE_HELP}`, [{ field: `Consent.provision.purpose[${i}]`, message: 'unknown purpose' }]);
            return purpose;
        });
        if (!purposes.length) throw new BadRequestError(`Consent.provision.purpose needs at least one purpose: ${PURPOSE_HELP}`, [{ field: 'Consent.provision.purpose', message: 'required' }]);
        // Categories as provision.class, or as security labels of our category system.
        const labelled = (p.securityLabel ?? []).filter((c) => c.system === CATEGORY_SYSTEM).map((c, i) => ({ c, field: `Consent.provision.securityLabel[${i}]` }));
        const categories = [...(p.class ?? []).map((c, i) => ({ c, field: `Consent.provision.class[${i}]` })), ...labelled].map(({ c, field }) => {
            const cat = c.code ? categoryOf(c.system ? `${c.system}|${c.code}` : c.code) : undefined;
            if (!cat) throw new BadRequestError(`${field} must be a ${CATEGORY_SYSTEM} code`, [{ field, message: 'unknown category' }]);
            return cat;
        });
        const recordIds = (p.data ?? []).map((d, i) => recordIdOfReference(d.reference.reference, `Consent.provision.data[${i}].reference`));
        if (categories.length && recordIds.length) throw new BadRequestError('give provision.class (categories) or provision.data (records), not both', [{ field: 'Consent.provision', message: 'class or data' }]);
        const expiresAt = p.period?.end;
        if (expiresAt !== undefined && !(Date.parse(expiresAt) > Date.now())) throw new BadRequestError('Consent.provision.period.end must be in the future', [{ field: 'Consent.provision.period.end', message: 'in the future' }]);
        const granted = await consents.grant(actorOf(res), patientId, {
            grantee,
            ...(categories.length ? { scope: { categories: [...new Set(categories)] } } : recordIds.length ? { scope: { recordIds: [...new Set(recordIds)] } } : {}),
            purposes: [...new Set(purposes)],
            ...(expiresAt ? { expiresAt: new Date(expiresAt).toISOString() } : {}),
        });
        res.setHeader('Location', `${baseOf(req)}/Consent/${granted.consentId}`);
        send(res, 201, consentResource(granted, granted.txId));
    });

    const revoke = async (req: Request, res: Response) => {
        const id = checkedUuid(String(req.params.id), 'Consent');
        const revoked = await consents.revoke(actorOf(res), id);
        send(res, 200, consentResource(revoked, revoked.txId));
    };

    router.put('/Consent/:id', ...auth('writes', roles('Consent', 'update')), requireFhirJson(), jsonBody(64 * 1024), async (req, res) => {
        const consent = req.body as FhirConsent;
        assertValid(consent, 'Consent');
        if (consent.id !== req.params.id) throw new BadRequestError('Consent.id must match the id in the URL', [{ field: 'Consent.id', message: 'matches the URL' }]);
        if (consent.status !== 'inactive') {
            throw new ProblemError(422, 'unprocessable', 'Unprocessable', 'a Consent changes only by revocation: PUT it with status inactive (or POST Consent/{id}/$revoke); grant a new Consent for other terms', { rule: 'consent.update' });
        }
        await revoke(req, res);
    });

    router.post('/Consent/:id/\\$revoke', ...auth('writes', support('Consent').operations![0].roles), async (req, res) => {
        if (hasBody(req) && !isFhirJson(req.get('content-type'))) throw new UnsupportedMediaTypeError('$revoke takes no body, or a Parameters resource as application/fhir+json', { accepted: FHIR_TYPES });
        await revoke(req, res);
    });

    // ---- audit -----------------------------------------------------------------------------
    router.get('/AuditEvent', ...auth('reads', roles('AuditEvent', 'search-type')), async (req, res) => {
        const params = searchQuery(req, known('AuditEvent'));
        const entity = single(params, 'entity');
        const patientId = patientOf(params, false);
        if ((entity === undefined) === (patientId === undefined)) {
            throw new BadRequestError(`AuditEvent is searched by entity=DocumentReference/<record ID> or by patient.identifier=${PATIENT_ID_SYSTEM}|<patient ID> (one of them)`, [{ field: 'query.entity', message: 'entity or patient' }]);
        }
        const page = paging(req, 'AuditEvent', params, deps.paging);
        const actor = actorOf(res);
        let events;
        if (entity !== undefined) {
            const id = entity.startsWith(`${RECORD_ID_SYSTEM}|`) ? entity.slice(RECORD_ID_SYSTEM.length + 1) : UUID.pattern.test(entity) ? entity : recordIdOfReference(entity, 'query.entity');
            checkedUuid(id, 'record');
            events = await audit.record(actor, id);
        } else {
            events = await audit.patient(actor, patientId!);
        }
        // The trail's own order (oldest first; within one instant as the ledger lists it),
        // which never changes for what is already on the ledger.
        const result = pageAfter(withTieRanks(events, (e) => e.timestamp), ['asc', 'asc'], page);
        send(res, 200, searchset(result.page.map((e) => auditEvent(e, deps.mspId)), baseOf(req), result));
    });

    router.use(notFoundHandler());
    router.use(fhirErrorHandler(deps.errorHandler));
    return router;
}
