export function keepLogs(stateRoot: string, instance: string, options?: { keptRoot?: string; label?: string }): string | undefined;
