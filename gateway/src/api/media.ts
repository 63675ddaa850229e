/*
 * Media types at the door: JSON operations take only JSON; uploads take a raw body of a real
 * type or one multipart/form-data file part; downloads are served as stored, never sniffed,
 * never run by a browser.
 */
import busboy from 'busboy';
import type { Request, RequestHandler, Response } from 'express';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BadRequestError, UnsupportedMediaTypeError } from '../http/problem.js';
import type { OpenedContent } from '../services/records.js';

export const JSON_TYPES = ['application/json'] as const;

// RFC 9110 §8.3.1: type "/" subtype *( OWS ";" OWS parameter ); tokens and quoted strings.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"(?:[^"\\\\\\x00-\\x08\\x0a-\\x1f\\x7f]|\\\\[\\t\\x20-\\x7e])*"))*$`);

/** The bare `type/subtype`, lowercase; '' when there is none or it is malformed. */
export function essence(contentType: string | undefined): string {
    if (!contentType || !MEDIA_TYPE.test(contentType.trim())) return '';
    return contentType.split(';')[0].trim().toLowerCase();
}

export function isJsonType(contentType: string | undefined): boolean {
    const e = essence(contentType);
    return e === 'application/json' || /^application\/[^/]+\+json$/.test(e);
}

/** A request carries a body when it declares a length above zero or is chunked. */
export function hasBody(req: Request): boolean {
    if (req.headers['transfer-encoding'] !== undefined) return true;
    const length = Number(req.headers['content-length'] ?? 0);
    return Number.isFinite(length) && length > 0;
}

/**
 * JSON operations refuse any other Content-Type before a byte is parsed, so a form, XML or
 * text body never turns into `{}` (and a default) by being skipped. A POST without a body and
 * without a Content-Type stays allowed: every such operation's body is optional.
 */
export function requireJson(): RequestHandler {
    return (req, _res, next) => {
        const type = req.get('content-type');
        if (type === undefined ? !hasBody(req) : isJsonType(type)) {
            next();
            return;
        }
        const got = type === undefined ? 'no Content-Type' : `Content-Type ${JSON.stringify(type.slice(0, 100))}`;
        const curl =
            essence(type) === 'application/x-www-form-urlencoded'
                ? ` (curl -d sends application/x-www-form-urlencoded unless you add -H 'Content-Type: application/json')`
                : '';
        throw new UnsupportedMediaTypeError(
            `${req.method} ${req.baseUrl + req.path} takes a JSON body sent with Content-Type: application/json; this request had ${got}${curl}. Nothing was written.`,
            { accepted: JSON_TYPES },
        );
    };
}

const UPLOAD_HINT =
    "send the document as the raw body with its real type (curl --data-binary @report.pdf -H 'Content-Type: application/pdf') or as one multipart file part (curl -F file=@report.pdf)";

/** A document arriving: its bytes, streamed, and what the client said it is. */
export interface Upload {
    contentType: string;
    fileName?: string;
    body: Readable;
    /** True when the body is parsed from multipart/form-data. */
    multipart: boolean;
    /** Stops reading a body that will not be stored (the response closes the connection). */
    discard(): void;
}

/**
 * Refuses, before anything is read, a Content-Type that cannot be a document: none, a
 * malformed one, or application/x-www-form-urlencoded (what curl -d and --data-binary send
 * when no type is given).
 */
export function requireUploadType(): RequestHandler {
    return (req, _res, next) => {
        const type = req.get('content-type');
        const accepted = ['multipart/form-data', '*/*'];
        if (type === undefined || type.trim() === '') {
            throw new UnsupportedMediaTypeError(`the upload has no Content-Type: ${UPLOAD_HINT}`, { accepted });
        }
        const e = essence(type);
        if (e === '') {
            throw new UnsupportedMediaTypeError(`Content-Type ${JSON.stringify(type.slice(0, 100))} is not a media type (type/subtype): ${UPLOAD_HINT}`, { accepted });
        }
        if (e === 'application/x-www-form-urlencoded') {
            throw new UnsupportedMediaTypeError(
                `a document is never application/x-www-form-urlencoded (curl -d and --data-binary send that when no -H 'Content-Type: ...' is given): ${UPLOAD_HINT}`,
                { accepted },
            );
        }
        next();
    };
}

/**
 * The document of an upload. A raw body is the document, with the request's Content-Type.
 * A multipart/form-data body must hold exactly one file part, and no other fields: that part
 * is the document, with its own filename and Content-Type. The part streams through in bounded
 * memory, and ends only once the whole form has been read, so a form found bad late (a second
 * file) fails the upload before anything can be stored.
 */
export function readUpload(req: Request): Promise<Upload> {
    const type = req.get('content-type') ?? '';
    if (essence(type) !== 'multipart/form-data') {
        return Promise.resolve({ contentType: type.trim(), body: req, multipart: false, discard: () => undefined });
    }
    let parser: busboy.Busboy;
    try {
        parser = busboy({
            headers: req.headers,
            preservePath: false,
            // Fields are refused anyway; these bound what is buffered before that happens.
            limits: { fieldSize: 1024, fieldNameSize: 100, headerPairs: 20, parts: 10 },
        });
    } catch (err) {
        return Promise.reject(new BadRequestError(`malformed multipart/form-data: ${(err as Error).message}`, [{ field: 'body', message: 'no boundary' }], { cause: err }));
    }
    return new Promise<Upload>((resolve, reject) => {
        const document = new PassThrough();
        // The form may turn out bad before the consumer is attached (it checks the ledger first);
        // the error stays on the stream (stream.errored) for the consumer's pipeline to report.
        document.on('error', () => undefined);
        let settled = false;
        let files = 0;
        let fileEnded = false;
        let formEnded = false;

        const discard = () => {
            req.unpipe(parser);
            parser.removeAllListeners('file');
            req.resume();
        };
        const fail = (err: Error) => {
            discard();
            if (!settled) {
                settled = true;
                reject(err);
            } else {
                document.destroy(err);
            }
        };
        const finish = () => {
            if (fileEnded && formEnded) document.end();
        };

        parser.on('file', (name, file, info) => {
            files++;
            if (files > 1) {
                file.resume();
                fail(new BadRequestError(`the form has more than one file part ("${name}"): upload one document per request`, [{ field: `body.${name}`, message: 'second file part' }]));
                return;
            }
            const fileName = info.filename ? info.filename.trim() : undefined;
            if (fileName !== undefined && fileName.length > 256) {
                file.resume();
                fail(new BadRequestError('the file part\'s filename is longer than 256 characters', [{ field: `body.${name}`, message: 'filename longer than 256 characters' }]));
                return;
            }
            file.on('end', () => {
                fileEnded = true;
                finish();
            });
            file.on('error', fail);
            file.pipe(document, { end: false });
            settled = true;
            resolve({
                contentType: essence(info.mimeType) ? info.mimeType : 'application/octet-stream',
                ...(fileName ? { fileName } : {}),
                body: document,
                multipart: true,
                discard,
            });
        });
        parser.on('field', (name) => {
            fail(
                new BadRequestError(`form field "${name.slice(0, 100)}" is not accepted: the form carries exactly one file part; give category, title and fileName in the query string`, [
                    { field: `body.${name.slice(0, 100)}`, message: 'not a file part' },
                ]),
            );
        });
        parser.on('partsLimit', () => fail(new BadRequestError('the form has too many parts: upload one file part', [{ field: 'body', message: 'too many parts' }])));
        parser.on('error', (err: Error) => fail(new BadRequestError(`malformed multipart/form-data: ${err.message}`, [{ field: 'body', message: 'malformed multipart' }], { cause: err })));
        parser.on('close', () => {
            if (files === 0) {
                fail(new BadRequestError(`the form has no file part: ${UPLOAD_HINT}`, [{ field: 'body', message: 'no file part' }]));
                return;
            }
            formEnded = true;
            finish();
        });
        req.on('error', fail);
        req.on('aborted', () => fail(new Error('client aborted the upload')));
        req.pipe(parser);
    });
}

// Types a browser shows without running anything of the document's own. Everything else
// (HTML, SVG, XML, scripts, stylesheets, unknown types) is served as an attachment.
const PASSIVE = [
    /^text\/plain$/,
    /^text\/csv$/,
    /^application\/pdf$/,
    /^application\/json$/,
    /^application\/[^/]+\+json$/,
    /^application\/octet-stream$/,
    /^application\/dicom$/,
    /^image\/(?:png|jpeg|gif|webp|avif|bmp|tiff)$/,
    /^audio\/[^/]+$/,
    /^video\/[^/]+$/,
];

/** Whether a browser could execute or render active content of this type (so: attachment only). */
export function isActiveType(contentType: string): boolean {
    const e = essence(contentType);
    return !PASSIVE.some((p) => p.test(e));
}

/** RFC 6266 Content-Disposition with an ASCII fallback and the UTF-8 name (RFC 8187). */
export function contentDisposition(disposition: 'attachment' | 'inline', fileName?: string): string {
    if (!fileName) return disposition;
    const fallback = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
    const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    return `${disposition}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/**
 * Streams an opened document as stored (REST content and FHIR ITI-68 alike): the stored
 * type whatever a file name says, never sniffed, never run — active types only as an
 * attachment, and in a sandbox — with the access transaction that logged the read.
 */
export async function sendStoredDocument(res: Response, opened: OpenedContent): Promise<void> {
    const { contentType, fileName } = opened.head;
    res.status(200);
    res.setHeader('Content-Type', contentType || 'application/octet-stream');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'");
    if (fileName || isActiveType(contentType)) res.setHeader('Content-Disposition', contentDisposition('attachment', fileName));
    res.setHeader('X-Access-Tx-Id', opened.accessTxId);
    res.setHeader('Cache-Control', 'no-store');
    await pipeline(opened.body, res);
}
