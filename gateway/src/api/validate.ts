import type { RequestHandler, Response } from 'express';
import type { ZodError, ZodType } from 'zod';
import { BadRequestError, type FieldIssue } from '../http/problem.js';
import type { Input, RequestSpec } from './endpoint.js';

const PARTS = ['params', 'query', 'headers', 'body'] as const;

/**
 * Validates params, query, headers and JSON body against the endpoint's schemas and keeps
 * the parsed values (Express 5's req.query is read-only, so they live in res.locals). All
 * parts are checked before answering, so a 400 lists every bad field at once.
 */
export function validate(spec: RequestSpec): RequestHandler {
    return (req, res, next) => {
        const issues: FieldIssue[] = [];
        const input: Record<string, unknown> = {};
        for (const part of PARTS) {
            const schema = spec[part] as ZodType | undefined;
            if (!schema) continue;
            const raw = part === 'body' ? (req.body ?? {}) : req[part];
            const result = schema.safeParse(raw);
            if (result.success) input[part] = result.data;
            else issues.push(...fieldIssues(part, result.error));
        }
        if (issues.length > 0) {
            throw new BadRequestError(`invalid ${[...new Set(issues.map((i) => i.field.split(/[.[]/)[0]))].join(', ')}`, issues);
        }
        res.locals.input = input;
        next();
    };
}

export function inputOf<R extends RequestSpec>(res: Response, _spec?: R): Input<R> {
    return res.locals.input as Input<R>;
}

function fieldIssues(part: string, error: ZodError): FieldIssue[] {
    return error.issues.map((issue) => {
        let field = part;
        for (const key of issue.path) field += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
        return { field, message: issue.message };
    });
}
