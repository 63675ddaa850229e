import type { ZodObject, ZodType, z } from 'zod';
import type { Role } from '../domain.js';

export type Method = 'get' | 'post' | 'put' | 'delete';

export interface ResponseSpec {
    description: string;
    schema?: ZodType;
    /** Defaults to application/json when a schema is given. */
    contentType?: string;
    headers?: Record<string, { description: string; schema: { type: 'string' | 'integer' } }>;
}

export interface RequestSpec {
    params?: ZodObject;
    query?: ZodObject;
    headers?: ZodObject;
    /** A JSON body, parsed and validated. */
    body?: ZodType;
    /**
     * The body streams through untouched (any content type); documented as binary. With
     * `multipart`, a multipart/form-data body with one file part is accepted too.
     */
    rawBody?: { description: string; multipart?: boolean; /** The only types taken (documented); any real type otherwise. */ contentTypes?: string[] };
}

/** One operation of the API: what the router mounts and what the OpenAPI document describes. */
export interface Endpoint<R extends RequestSpec = RequestSpec> {
    operationId: string;
    method: Method;
    /** OpenAPI form, `/api/v1/records/{recordId}`. */
    path: string;
    summary: string;
    description?: string;
    tags: string[];
    /** Roles allowed; omitted for public operations (no token). */
    roles?: readonly Role[];
    request: R;
    responses: Record<number, ResponseSpec>;
    /** Problem statuses this operation may answer besides 401/403 (added for any authenticated one) and 500. */
    problems: number[];
}

/** Keeps the request spec's exact type so handlers get typed input. */
export function endpoint<R extends RequestSpec>(spec: Endpoint<R>): Endpoint<R> {
    return spec;
}

type Out<S> = S extends ZodType ? z.output<S> : undefined;

/** The validated input of an endpoint, as its handler receives it. */
export interface Input<R extends RequestSpec> {
    params: Out<R['params']>;
    query: Out<R['query']>;
    headers: Out<R['headers']>;
    body: Out<R['body']>;
}

/** Express path syntax for an OpenAPI path. */
export function expressPath(path: string): string {
    return path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
}
