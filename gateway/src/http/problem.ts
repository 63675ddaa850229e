/*
 * RFC 9457 problem details. Every error the API answers with is a ProblemError (or is
 * mapped to one by the error handler), so clients see one shape for every failure.
 */

/** A field that failed validation, as listed in a 400's `errors`. */
export interface FieldIssue {
    /** Where: `body.purposes[0]`, `query.category`, `params.recordId`, `headers.x-purpose-of-use`. */
    field: string;
    message: string;
}

export interface ProblemOptions extends ErrorOptions {
    /** Extra members of the problem object (RFC 9457 §3.2). */
    extensions?: Record<string, unknown>;
    /** Extra response headers, e.g. Retry-After or WWW-Authenticate. */
    headers?: Record<string, string>;
    /**
     * For a denial (401, 403, 404, 415, 429): the short ID of the rule that denied it, for the
     * denial log and ehr_denied_requests_total (e.g. `token.expired`, `role`, `rate-limit.reads`).
     */
    rule?: string;
}

/** What every problem constructor takes besides its detail: a cause and the denying rule. */
export type DenialOptions = ErrorOptions & { rule?: string };

const TYPE_BASE = 'urn:ehr:problem:';

export class ProblemError extends Error {
    readonly status: number;
    readonly type: string;
    readonly title: string;
    readonly extensions: Record<string, unknown>;
    readonly headers: Record<string, string>;
    readonly rule: string | undefined;

    constructor(status: number, slug: string, title: string, detail: string, options: ProblemOptions = {}) {
        super(detail, options);
        this.rule = options.rule;
        this.name = 'ProblemError';
        this.status = status;
        this.type = TYPE_BASE + slug;
        this.title = title;
        this.extensions = options.extensions ?? {};
        this.headers = options.headers ?? {};
    }

    get detail(): string {
        return this.message;
    }
}

export class BadRequestError extends ProblemError {
    readonly errors: readonly FieldIssue[];

    constructor(detail: string, errors: readonly FieldIssue[] = [], options: ErrorOptions = {}) {
        super(400, 'invalid-request', 'Invalid request', detail, { ...options, extensions: errors.length ? { errors } : {} });
        this.name = 'BadRequestError';
        this.errors = errors;
    }
}

export class UnauthorizedError extends ProblemError {
    constructor(detail: string, options: DenialOptions = {}) {
        super(401, 'unauthorized', 'Unauthorized', detail, {
            ...options,
            headers: { 'WWW-Authenticate': 'Bearer realm="ehr-gateway"' },
        });
        this.name = 'UnauthorizedError';
    }
}

export class ForbiddenError extends ProblemError {
    constructor(detail: string, options: DenialOptions & { extensions?: Record<string, unknown> } = {}) {
        super(403, 'forbidden', 'Forbidden', detail, options);
        this.name = 'ForbiddenError';
    }
}

export class NotFoundError extends ProblemError {
    constructor(detail: string, options: DenialOptions = {}) {
        super(404, 'not-found', 'Not found', detail, options);
        this.name = 'NotFoundError';
    }
}

export class ConflictError extends ProblemError {
    constructor(detail: string, options: ErrorOptions = {}) {
        super(409, 'conflict', 'Conflict', detail, options);
        this.name = 'ConflictError';
    }
}

export class GoneError extends ProblemError {
    constructor(detail: string, options: ErrorOptions = {}) {
        super(410, 'gone', 'Gone', detail, options);
        this.name = 'GoneError';
    }
}

export class PayloadTooLargeError extends ProblemError {
    constructor(limitBytes: number, { detail, ...options }: ErrorOptions & { detail?: string } = {}) {
        super(413, 'payload-too-large', 'Payload too large', detail ?? `request body exceeds the limit of ${limitBytes} bytes`, {
            ...options,
            extensions: { limitBytes },
        });
        this.name = 'PayloadTooLargeError';
    }
}

export class UnsupportedMediaTypeError extends ProblemError {
    /** `accepted`: the media types this operation takes, listed in the problem and in Accept-Post. */
    constructor(detail: string, options: DenialOptions & { accepted?: readonly string[] } = {}) {
        const { accepted, ...rest } = options;
        super(415, 'unsupported-media-type', 'Unsupported media type', detail, {
            ...rest,
            ...(accepted ? { extensions: { accepted }, headers: { 'Accept-Post': accepted.join(', ') } } : {}),
        });
        this.name = 'UnsupportedMediaTypeError';
    }
}

/** A rate limit is exhausted: 429 with Retry-After (RFC 6585 §4). */
export class TooManyRequestsError extends ProblemError {
    readonly retryAfterSeconds: number;

    constructor(detail: string, retryAfterSeconds: number, options: DenialOptions & { extensions?: Record<string, unknown> } = {}) {
        super(429, 'too-many-requests', 'Too many requests', detail, {
            ...options,
            headers: { 'Retry-After': String(retryAfterSeconds) },
        });
        this.name = 'TooManyRequestsError';
        this.retryAfterSeconds = retryAfterSeconds;
    }
}

export class ServiceUnavailableError extends ProblemError {
    readonly retryAfterSeconds: number;

    constructor(detail: string, retryAfterSeconds: number, options: ErrorOptions & { extensions?: Record<string, unknown> } = {}) {
        super(503, 'service-unavailable', 'Service unavailable', detail, {
            ...options,
            headers: { 'Retry-After': String(retryAfterSeconds) },
        });
        this.name = 'ServiceUnavailableError';
        this.retryAfterSeconds = retryAfterSeconds;
    }
}

export class InternalError extends ProblemError {
    constructor(options: ErrorOptions = {}) {
        super(500, 'internal', 'Internal server error', 'the gateway failed to handle the request; see its logs by request ID', options);
        this.name = 'InternalError';
    }
}

/** The JSON body of a problem response. */
export interface ProblemBody {
    type: string;
    title: string;
    status: number;
    detail: string;
    instance?: string;
    requestId?: string;
    [extension: string]: unknown;
}

export function problemBody(problem: ProblemError, instance?: string, requestId?: string): ProblemBody {
    return {
        ...problem.extensions,
        type: problem.type,
        title: problem.title,
        status: problem.status,
        detail: problem.detail,
        ...(instance ? { instance } : {}),
        ...(requestId ? { requestId } : {}),
    };
}
