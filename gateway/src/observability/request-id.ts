import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';

export const REQUEST_ID_HEADER = 'X-Request-Id';
/** Accept a caller's ID only when it is short and plain, so it cannot inject into logs or headers. */
const ACCEPTABLE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts the caller's X-Request-Id (or makes one), echoes it and keeps it for logs and problems. */
export function requestId(): RequestHandler {
    return (req, res, next) => {
        const offered = req.get(REQUEST_ID_HEADER);
        const id = offered && ACCEPTABLE.test(offered) ? offered : randomUUID();
        res.locals.requestId = id;
        (req as { id?: string }).id = id;
        res.setHeader(REQUEST_ID_HEADER, id);
        next();
    };
}

export function requestIdOf(res: Response): string | undefined {
    return res.locals.requestId as string | undefined;
}
