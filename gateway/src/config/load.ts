import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { type GatewayConfig, configSchema } from './schema.js';

export const CONFIG_PATH_ENV = 'EHR_GATEWAY_CONFIG';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Environment variables that override single fields, for what differs between otherwise
 * identical deployments (ports, endpoints, log level). Numbers are converted here so the
 * schema reports a bad value with the field's own name.
 */
const ENV_OVERRIDES: readonly { env: string; path: readonly string[]; type: 'string' | 'number' }[] = [
    { env: 'EHR_GATEWAY_HOST', path: ['server', 'host'], type: 'string' },
    { env: 'EHR_GATEWAY_PORT', path: ['server', 'port'], type: 'number' },
    { env: 'EHR_GATEWAY_BODY_LIMIT_BYTES', path: ['server', 'bodyLimitBytes'], type: 'number' },
    { env: 'EHR_GATEWAY_LOG_LEVEL', path: ['log', 'level'], type: 'string' },
    { env: 'EHR_GATEWAY_MSP_ID', path: ['hospital', 'mspId'], type: 'string' },
    { env: 'EHR_GATEWAY_PEER_ENDPOINT', path: ['fabric', 'peerEndpoint'], type: 'string' },
    { env: 'EHR_GATEWAY_KUBO_API_URL', path: ['ipfs', 'kuboApiUrl'], type: 'string' },
    { env: 'EHR_GATEWAY_CLUSTER_REST_URL', path: ['ipfs', 'clusterRestUrl'], type: 'string' },
];

/** Validates a configuration object; relative paths resolve against `baseDir`. */
export function parseConfig(raw: unknown, env: Env = {}, baseDir = process.cwd()): GatewayConfig {
    const merged = applyEnvOverrides(raw, env);
    const result = configSchema(baseDir).safeParse(merged);
    if (!result.success) {
        const issues = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
        throw new ConfigError('invalid gateway configuration', issues, { cause: result.error });
    }
    return result.data;
}

/** Reads the JSON file named by EHR_GATEWAY_CONFIG (or `path`) and validates it. */
export function loadConfig(env: Env = process.env, path = env[CONFIG_PATH_ENV]): GatewayConfig {
    if (!path) {
        throw new ConfigError(`${CONFIG_PATH_ENV} must name the gateway's JSON configuration file`);
    }
    const file = resolve(path);
    let text: string;
    try {
        text = readFileSync(file, 'utf8');
    } catch (err) {
        throw new ConfigError(`cannot read configuration file ${file}`, [], { cause: err });
    }
    let raw: unknown;
    try {
        raw = JSON.parse(text);
    } catch (err) {
        throw new ConfigError(`configuration file ${file} is not valid JSON`, [], { cause: err });
    }
    return parseConfig(raw, env, dirname(file));
}

function applyEnvOverrides(raw: unknown, env: Env): unknown {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
    const copy = structuredClone(raw) as Record<string, unknown>;
    for (const { env: name, path, type } of ENV_OVERRIDES) {
        const value = env[name];
        if (value === undefined || value === '') continue;
        let target = copy;
        for (const key of path.slice(0, -1)) {
            const next = target[key];
            target = (target[key] = typeof next === 'object' && next !== null ? next : {}) as Record<string, unknown>;
        }
        target[path[path.length - 1]] = type === 'number' ? Number(value) : value;
    }
    return copy;
}
