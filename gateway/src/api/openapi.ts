import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { ZodObject } from 'zod';
import type { Endpoint } from './endpoint.js';
import { ALL_ENDPOINTS } from './endpoints.js';
import { Problem } from './schemas.js';

const PROBLEM_TITLES: Record<number, string> = {
    400: 'Invalid request (lists the fields)',
    401: 'Missing, malformed, expired or forged bearer token, or one of another issuer or audience, or living longer than the maximum lifetime (exp - iat)',
    403: 'Not permitted for this role, actor or hospital',
    404: 'Unknown resource',
    409: 'Conflicts with the ledger state',
    410: 'Erased',
    413: 'Body larger than the configured limit',
    429: 'Rate limit of this route class exceeded (per actor, or per address without a token, or too many refused tokens); see Retry-After',
    415: 'Content-Type not accepted: JSON operations take application/json only; uploads need a real type (see `accepted`)',
    500: 'Internal error',
    503: 'A dependency is down, or the envelope is not delivered yet; see Retry-After',
};

function rawContent(multipart: boolean, contentTypes?: string[]): Record<string, { schema: unknown }> {
    if (contentTypes) return Object.fromEntries(contentTypes.map((t) => [t, { schema: { type: 'string' } }]));
    return {
        ...(multipart
            ? {
                  'multipart/form-data': {
                      schema: {
                          type: 'object',
                          description: 'Exactly one file part (any field name) and no other fields; its filename and Content-Type are kept',
                          properties: { file: { type: 'string', format: 'binary' } },
                          required: ['file'],
                      },
                  },
              }
            : {}),
        '*/*': { schema: { type: 'string', format: 'binary', description: 'The document; its Content-Type is kept (not application/x-www-form-urlencoded)' } },
    };
}

export interface OpenApiInfo {
    title?: string;
    version?: string;
    serverUrl?: string;
}

/** The OpenAPI 3.1 document, generated from the same schemas the routes validate with. */
export function openApiDocument(info: OpenApiInfo = {}, endpoints: readonly Endpoint[] = ALL_ENDPOINTS): ReturnType<OpenApiGeneratorV31['generateDocument']> {
    const registry = new OpenAPIRegistry();
    const bearer = registry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });

    for (const e of endpoints) {
        // Every route is rate limited (429), so every one lists it.
        const statuses = new Set([...e.problems, 429, 500, ...(e.roles ? [401, 403] : []), ...(e.request.body || e.request.rawBody ? [415] : [])]);
        const responses: Record<string, { description: string; content?: Record<string, { schema: unknown }>; headers?: Record<string, unknown> }> = {};
        for (const [status, r] of Object.entries(e.responses)) {
            responses[status] = {
                description: r.description,
                ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: r.schema } } } : {}),
                ...(r.headers ? { headers: r.headers } : {}),
            };
        }
        for (const status of [...statuses].sort()) {
            if (responses[status]) continue;
            responses[status] = {
                description: PROBLEM_TITLES[status] ?? 'Problem',
                content: { 'application/problem+json': { schema: Problem } },
                ...(status === 503 || status === 429 ? { headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } } } : {}),
            };
        }
        registry.registerPath({
            method: e.method,
            path: e.path,
            operationId: e.operationId,
            summary: e.summary,
            description: e.roles ? `${e.description ?? ''}${e.description ? '\n\n' : ''}Roles: ${e.roles.join(', ')}.` : e.description,
            tags: e.tags,
            security: e.roles ? [{ [bearer.name]: [] }] : [],
            request: {
                params: e.request.params as ZodObject | undefined,
                query: e.request.query as ZodObject | undefined,
                headers: e.request.headers as ZodObject | undefined,
                ...(e.request.body
                    ? { body: { required: false, content: { 'application/json': { schema: e.request.body } } } }
                    : e.request.rawBody
                      ? { body: { required: true, description: e.request.rawBody.description, content: rawContent(e.request.rawBody.multipart ?? false, e.request.rawBody.contentTypes) as never } }
                      : {}),
            },
            responses: responses as never,
        });
    }

    return new OpenApiGeneratorV31(registry.definitions).generateDocument({
        openapi: '3.1.0',
        info: {
            title: info.title ?? 'EHR consortium hospital gateway',
            version: info.version ?? '1.0.0',
            description: 'REST API of one hospital\'s gateway (DESIGN §7). Errors are application/problem+json (RFC 9457).',
        },
        servers: info.serverUrl ? [{ url: info.serverUrl }] : undefined,
    });
}
