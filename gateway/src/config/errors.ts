/** The configuration could not be read or is invalid; `issues` lists every offending field. */
export class ConfigError extends Error {
    readonly issues: readonly string[];

    constructor(message: string, issues: readonly string[] = [], options?: ErrorOptions) {
        super(issues.length > 0 ? `${message}:\n  - ${issues.join('\n  - ')}` : message, options);
        this.name = 'ConfigError';
        this.issues = issues;
    }
}
