import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';

export interface LoggerConfig {
    level: LoggerOptions['level'];
}

/**
 * JSON logs. Credentials are redacted wherever they might be attached; request bodies,
 * query strings (a title travels there) and response bodies are never logged at all.
 */
export function createLogger(config: LoggerConfig, destination?: DestinationStream): Logger {
    const options: LoggerOptions = {
        level: config.level,
        base: { service: 'ehr-gateway' },
        redact: {
            paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'authorization', 'envelope', 'dataKey', 'privateKey'],
            censor: '[redacted]',
        },
    };
    return destination ? pino(options, destination) : pino(options);
}

/** Access log: one line per request with method, path, status, duration and request ID. */
export function httpLogger(logger: Logger): HttpLogger {
    return pinoHttp({
        logger,
        genReqId: (req: IncomingMessage) => (req as { id?: string }).id ?? 'unknown',
        customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
        serializers: {
            req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: pathOnly(req.url) }),
            res: (res: ServerResponse | { statusCode: number }) => ({ statusCode: res.statusCode }),
        },
        // Errors are logged once, by the error handler, with their cause chain.
        customErrorObject: (_req, _res, _err, value) => ({ ...value, err: undefined }),
        quietReqLogger: true,
    });
}

function pathOnly(url: string): string {
    const q = url.indexOf('?');
    return q === -1 ? url : url.slice(0, q);
}
