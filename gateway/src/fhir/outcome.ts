/*
 * Errors of the FHIR endpoint are OperationOutcomes with the same HTTP statuses as REST's
 * problem+json. The shared error handler (http/error-handler.ts) still decides the status,
 * headers, denial log and metrics; only the body it writes is turned into an OperationOutcome.
 */
import type { ErrorRequestHandler, Response } from 'express';
import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';
import type { ProblemBody } from '../http/problem.js';

export const FHIR_JSON = 'application/fhir+json';

/** IssueType (http://hl7.org/fhir/issue-type) by HTTP status. */
const ISSUE_CODE: Record<number, OperationOutcomeIssue['code']> = {
    400: 'invalid',
    401: 'login',
    403: 'forbidden',
    404: 'not-found',
    405: 'not-supported',
    406: 'not-supported',
    409: 'conflict',
    410: 'deleted',
    412: 'conflict',
    413: 'too-costly',
    415: 'not-supported',
    422: 'processing',
    429: 'throttled',
    500: 'exception',
    503: 'transient',
};

export function issueCodeOf(status: number): OperationOutcomeIssue['code'] {
    return ISSUE_CODE[status] ?? (status >= 500 ? 'exception' : 'processing');
}

/** The OperationOutcome of a problem: one issue for the problem, one per invalid field. */
export function outcomeOfProblem(problem: ProblemBody): OperationOutcome {
    const code = issueCodeOf(problem.status);
    const fields = Array.isArray(problem.errors) ? (problem.errors as { field: string; message: string }[]) : [];
    const issues: OperationOutcomeIssue[] = [
        {
            severity: problem.status >= 500 ? 'fatal' : 'error',
            code,
            details: { coding: [{ system: 'urn:ehr:problem', code: problem.type.replace(/^urn:ehr:problem:/, '') }], text: problem.title },
            diagnostics: problem.detail,
        },
        ...fields.map((f): OperationOutcomeIssue => ({ severity: 'error', code, diagnostics: f.message, expression: [f.field] })),
    ];
    return {
        resourceType: 'OperationOutcome',
        ...(problem.requestId ? { id: safeId(problem.requestId) } : {}),
        issue: issues,
    };
}

export function informational(text: string): OperationOutcome {
    return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: text }] };
}

function safeId(value: string): string {
    return value.replace(/[^A-Za-z0-9\-.]/g, '-').slice(0, 64);
}

/**
 * Wraps the shared problem+json error handler: everything it does stays (status, Retry-After,
 * WWW-Authenticate, denial logging and counting), and the problem it writes goes out as an
 * OperationOutcome with Content-Type application/fhir+json.
 */
export function fhirErrorHandler(shared: ErrorRequestHandler): ErrorRequestHandler {
    return (err, req, res, next) => {
        const send = res.send.bind(res) as Response['send'];
        res.type = () => res;
        res.send = ((body: unknown) => {
            let outcome: OperationOutcome;
            try {
                outcome = outcomeOfProblem(JSON.parse(String(body)) as ProblemBody);
            } catch {
                outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: issueCodeOf(res.statusCode), diagnostics: String(body).slice(0, 500) }] };
            }
            res.setHeader('Content-Type', `${FHIR_JSON}; charset=utf-8`);
            return send(JSON.stringify(outcome));
        }) as Response['send'];
        shared(err, req, res, next);
    };
}
