export { ConfigError } from './errors.js';
export { CONFIG_PATH_ENV, loadConfig, parseConfig } from './load.js';
export { type GatewayConfig, type GatewayConfigInput, configSchema } from './schema.js';
