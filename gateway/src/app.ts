import express, { type Express, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import type { Endpoint, Input, RequestSpec } from './api/endpoint.js';
import { expressPath } from './api/endpoint.js';
import * as api from './api/endpoints.js';
import * as breakGlassApi from './api/break-glass-endpoints.js';
import type { BreakGlassService } from './break-glass/service.js';
import { isJsonType, readUpload, requireJson, requireUploadType, sendStoredDocument } from './api/media.js';
import { openApiDocument } from './api/openapi.js';
import { inputOf, validate } from './api/validate.js';
import { authenticate, requireRole } from './auth/middleware.js';
import { createRateLimiters, type RateClass, type RateLimits } from './auth/rate-limit.js';
import type { TokenVerifier } from './auth/token-verifier.js';
import type { Actor } from './domain.js';
import { PROBLEM_CONTENT_TYPE, errorHandler, notFoundHandler } from './http/error-handler.js';
import { PayloadTooLargeError, problemBody, ServiceUnavailableError } from './http/problem.js';
import { httpLogger } from './observability/logger.js';
import type { Metrics } from './observability/metrics.js';
import { requestId, requestIdOf } from './observability/request-id.js';
import type { BlobStore, HospitalIdentity, Ledger } from './ports.js';
import { AuditService } from './services/audit.js';
import { ConsentService } from './services/consents.js';
import type { ServiceContext } from './services/context.js';
import { checkHealth } from './services/health.js';
import { PatientService } from './services/patients.js';
import { FHIR_BASE_PATH, createFhirRouter } from './fhir/routes.js';
import { RecordService } from './services/records.js';
import { ResearchService, type ResearchLedger } from './services/research.js';
import { readNdjsonBody } from './vitals/read-body.js';
import { DEFAULT_VITALS_OPTIONS, type LedgerEventListener, VitalsService, type VitalsOptions } from './vitals/vitals-service.js';
import { ListService } from './services/lists.js';
import { MAX_PAGE_LIMIT, type ListQueryInput, type PageLimits } from './api/pagination.js';
import type { ListKind } from './ports.js';

export interface AppDependencies {
    ledger: Ledger;
    blobs: BlobStore;
    identity: HospitalIdentity;
    verifyToken: TokenVerifier;
    logger: Logger;
    metrics: Metrics;
    limits: {
        /** Largest document the upload route accepts. */
        bodyLimitBytes: number;
        /** Largest JSON body. */
        jsonLimitBytes: number;
    };
    retryAfterSeconds: number;
    /** Page sizes of the paginated lists and of FHIR searches (config `server.lists`); defaults 50 and 200. */
    lists?: PageLimits;
    /** Abuse limits per route class (config `rateLimits`). */
    rateLimits: RateLimits;
    /** Public base URL for the OpenAPI document's `servers`. */
    publicUrl?: string;
    /** Break-glass emergency access (break-glass/); its routes are mounted only when given. */
    breakGlass?: BreakGlassService;
    /** Research statistics and the patient's opt-out (contract Research), with this hospital's k. */
    research: { ledger: ResearchLedger; minCellSize: number };
    /** Vital-sign ingest and live views (config `vitals`); defaults when omitted. */
    vitals?: VitalsOptions;
    /** Where the chaincode events this gateway follows are reported (main.ts: the event follower). */
    followLedgerEvents?: (listener: LedgerEventListener) => void;
    /** Where main.ts collects what to do when the gateway stops (end live views, so the server can close). */
    onShutdown?: (hook: () => void) => void;
}

/** Room for a multipart form's boundaries and part headers beyond the document limit. */
const MULTIPART_OVERHEAD_BYTES = 16 * 1024;

type Handler<R extends RequestSpec> = (input: Input<R>, actor: Actor, res: Response, req: express.Request) => Promise<void> | void;

/** The Express app of one hospital's gateway; the dependencies come from main.ts (or the tests' fakes). */
export function createApp(deps: AppDependencies): Express {
    const ctx: ServiceContext = {
        ledger: deps.ledger,
        blobs: deps.blobs,
        identity: deps.identity,
        logger: deps.logger,
        retryAfterSeconds: deps.retryAfterSeconds,
    };
    const records = new RecordService(ctx);
    const patients = new PatientService(ctx);
    const consents = new ConsentService(ctx);
    const audit = new AuditService(ctx);
    const research = new ResearchService(ctx, deps.research.ledger, deps.research.minCellSize);
    const vitals = new VitalsService(ctx, records, deps.vitals ?? DEFAULT_VITALS_OPTIONS);
    deps.followLedgerEvents?.(vitals.onLedgerEvent);
    deps.onShutdown?.(() => vitals.close());
    const pageLimits = deps.lists ?? { defaultLimit: 50, maxLimit: MAX_PAGE_LIMIT };
    const lists = new ListService(ctx, pageLimits);
    /** Answers one page: the items as the body (the array the lists always were), the next page in `Link`. */
    const sendPage = async <K extends ListKind>(res: Response, req: express.Request, actor: Actor, kind: K, subject: string, query: ListQueryInput) => {
        const page = await lists.page(actor, kind, subject, query, req.baseUrl + req.path);
        if (page.link) res.setHeader('Link', page.link);
        status(res, 200, page.items);
    };
    const document = openApiDocument({ serverUrl: deps.publicUrl });

    const app = express();
    app.disable('x-powered-by');
    app.set('trust proxy', false);
    app.use(requestId());
    app.use(httpLogger(deps.logger));
    app.use(deps.metrics.middleware());

    const limiters = createRateLimiters(deps.rateLimits, deps.identity.mspId);
    const rateClassOf = (e: Endpoint<RequestSpec>): RateClass =>
        !e.roles ? 'public' : e.request.rawBody ? 'uploads' : e.method === 'get' ? 'reads' : 'writes';

    const jsonBody = express.json({ limit: deps.limits.jsonLimitBytes, strict: true, type: (req) => isJsonType(req.headers['content-type']) });

    function mount<R extends RequestSpec>(e: Endpoint<R>, handler: Handler<R>): void {
        const chain: RequestHandler[] = [];
        // Limited before the role check and before any body is read, so refused and oversized
        // requests count too; refused tokens count against the caller's address.
        if (e.roles) {
            chain.push(authenticate(deps.verifyToken, { onFailure: limiters.authFailures }), limiters[rateClassOf(e as Endpoint<RequestSpec>)], requireRole(...e.roles));
        } else {
            chain.push(limiters.public);
        }
        if (e.request.body) chain.push(requireJson(), jsonBody);
        if (e.request.rawBody) chain.push(requireUploadType());
        chain.push(validate(e.request));
        chain.push(async (req, res) => {
            await handler(inputOf<R>(res), res.locals.actor as Actor, res, req);
        });
        app[e.method](expressPath(e.path), ...chain);
    }

    const status = (res: Response, code: number, body: unknown) => {
        res.status(code).json(body);
    };

    // ---- operations --------------------------------------------------------------------
    mount(api.health, async (_input, _actor, res, req) => {
        const report = await checkHealth(ctx);
        const components = Object.fromEntries(report.components.map((c) => [c.name, c.up ? 'up' : 'down']));
        const down = report.components.filter((c) => !c.up).map((c) => c.name);
        if (report.ok) {
            status(res, 200, { status: 'ok', components, down });
            return;
        }
        const problem = new ServiceUnavailableError(`${down.join(', ')} ${down.length === 1 ? 'is' : 'are'} down`, deps.retryAfterSeconds);
        res.status(503).setHeader('Retry-After', String(deps.retryAfterSeconds));
        res.type(PROBLEM_CONTENT_TYPE).send(
            JSON.stringify({ ...problemBody(problem, req.path, requestIdOf(res)), status: 503, components, down }),
        );
    });
    mount(api.openapi, (_input, _actor, res) => status(res, 200, document));
    mount(api.metrics, async (_input, _actor, res) => {
        res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    });

    // ---- hospitals and patients --------------------------------------------------------
    mount(api.listHospitals, async (_input, _actor, res) => status(res, 200, await deps.ledger.listHospitals()));
    mount(api.registerPatient, async ({ body }, actor, res) => status(res, 201, await patients.register(actor, body.patientId)));

    // ---- records -----------------------------------------------------------------------
    mount(api.storeRecord, async ({ params, query }, actor, res, req) => {
        const declared = req.get('content-length');
        // A multipart form wraps the document in boundaries and part headers: allow for them here;
        // the document itself is held to the limit as it streams.
        const overhead = /^multipart\/form-data/i.test(req.get('content-type') ?? '') ? MULTIPART_OVERHEAD_BYTES : 0;
        if (declared !== undefined && Number(declared) > deps.limits.bodyLimitBytes + overhead) {
            // Refused before reading a byte; the connection is closed so the client stops sending.
            res.setHeader('Connection', 'close');
            throw new PayloadTooLargeError(deps.limits.bodyLimitBytes);
        }
        const upload = await readUpload(req);
        let stored;
        try {
            stored = await records.store(
                actor,
                {
                    patientId: params.patientId,
                    category: query.category,
                    contentType: upload.contentType,
                    title: query.title,
                    fileName: query.fileName ?? upload.fileName,
                    supersedes: query.supersedes,
                    limitBytes: deps.limits.bodyLimitBytes,
                },
                upload.body,
            );
        } catch (err) {
            if (upload.multipart) {
                res.setHeader('Connection', 'close');
                upload.discard();
            }
            throw err;
        }
        res.setHeader('Location', `/api/v1/records/${stored.recordId}`);
        status(res, 201, stored);
    });
    mount(api.listRecords, ({ params, query }, actor, res, req) => sendPage(res, req, actor, 'records', params.patientId, query));
    mount(api.getRecord, async ({ params }, actor, res) => status(res, 200, await records.get(actor, params.recordId)));
    mount(api.getRecordContent, async ({ params, headers }, actor, res, req) => {
        const opened = await records.open(actor, params.recordId, headers['x-purpose-of-use'], {
            purposeDefaulted: req.get('x-purpose-of-use') === undefined,
        });
        await sendStoredDocument(res, opened);
    });
    mount(api.verifyRecord, async ({ params }, actor, res) => status(res, 200, await records.verify(actor, params.recordId)));
    mount(api.eraseRecord, async ({ params }, actor, res) => status(res, 200, await records.erase(actor, params.recordId)));

    // ---- consents and access requests --------------------------------------------------
    mount(api.grantConsent, async ({ params, body }, actor, res) => status(res, 201, await consents.grant(actor, params.patientId, body)));
    mount(api.listConsents, ({ params, query }, actor, res, req) => sendPage(res, req, actor, 'consents', params.patientId, query));
    mount(api.revokeConsent, async ({ params }, actor, res) => status(res, 200, await consents.revoke(actor, params.consentId)));
    mount(api.createAccessRequest, async ({ body }, actor, res) => status(res, 201, await consents.request(actor, body)));
    mount(api.listAccessRequests, ({ params, query }, actor, res, req) => sendPage(res, req, actor, 'requests', params.patientId, query));
    mount(api.approveAccessRequest, async ({ params, body }, actor, res) => {
        const decided = await consents.decide(actor, params.requestId, 'approve', body.expiresAt);
        status(res, 200, decision(decided));
    });
    mount(api.rejectAccessRequest, async ({ params }, actor, res) => {
        status(res, 200, decision(await consents.decide(actor, params.requestId, 'reject')));
    });

    // ---- audit -------------------------------------------------------------------------
    mount(api.auditRecord, ({ params, query }, actor, res, req) => sendPage(res, req, actor, 'auditRecord', params.recordId, query));
    mount(api.auditPatient, ({ params, query }, actor, res, req) => sendPage(res, req, actor, 'auditPatient', params.patientId, query));

    // ---- break-glass emergency access ---------------------------------------------------
    const breakGlass = deps.breakGlass;
    if (breakGlass) {
        mount(breakGlassApi.declareEmergencyAccess, async ({ params, body }, actor, res) => {
            status(res, 201, await breakGlass.declare(actor, params.patientId, body));
        });
        mount(breakGlassApi.listEmergencyAccess, async (_input, actor, res) => status(res, 200, await breakGlass.review(actor)));
        mount(breakGlassApi.getBreakGlassSettings, async (_input, actor, res) => status(res, 200, await breakGlass.settings(actor)));
        mount(breakGlassApi.approveBreakGlassSettings, async ({ body }, actor, res) => status(res, 200, await breakGlass.approveSettings(actor, body)));
    }
    // ---- research ----------------------------------------------------------------------
    mount(api.setResearchPreference, async ({ params, body }, actor, res) =>
        status(res, 200, await research.setPreference(actor, params.patientId, body.optOut)),
    );
    mount(api.getResearchPreference, async ({ params }, actor, res) => status(res, 200, await research.getPreference(actor, params.patientId)));
    mount(api.researchStatistics, async ({ query }, actor, res) => status(res, 200, await research.statistics(actor, query.dimension)));
    mount(api.listResearchQueries, async ({ query }, actor, res) => status(res, 200, await research.listQueries(actor, query.limit, query.cursor)));
    // ---- vital signs (vitals/) -----------------------------------------------------------
    mount(api.ingestVitals, async ({ params }, actor, res, req) => {
        const body = await readNdjsonBody(req, res, (deps.vitals ?? DEFAULT_VITALS_OPTIONS).maxBytes);
        status(res, 201, await vitals.ingest(actor, params.patientId, body));
    });
    mount(api.liveVitals, async ({ params, headers }, actor, res) => {
        await vitals.openLive(actor, params.patientId, headers['x-purpose-of-use'], res);
    });

    // ---- FHIR R4 (fhir/): the same services, token, roles and limits; errors as OperationOutcome
    const problems = errorHandler({ logger: deps.logger, retryAfterSeconds: deps.retryAfterSeconds, metrics: deps.metrics, hospital: deps.identity.mspId });
    app.use(
        FHIR_BASE_PATH,
        createFhirRouter({
            records,
            consents,
            audit,
            ledger: deps.ledger,
            mspId: deps.identity.mspId,
            verifyToken: deps.verifyToken,
            limiters,
            bodyLimitBytes: deps.limits.bodyLimitBytes,
            errorHandler: problems,
            paging: pageLimits,
        }),
    );

    app.use(notFoundHandler());
    app.use(problems);
    return app;
}

function decision(request: { requestId: string; status: string; consentId: string | null; txId: string }) {
    return {
        requestId: request.requestId,
        status: request.status,
        ...(request.consentId ? { consentId: request.consentId } : {}),
        txId: request.txId,
    };
}

