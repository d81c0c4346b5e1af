export type LogFields = Record<string, unknown>;

export interface Logger {
  info(fields: LogFields, msg: string): void;
  warn(fields: LogFields, msg: string): void;
  error(fields: LogFields, msg: string): void;
  child(fields: LogFields): Logger;
}

/**
 * One JSON object per line on the console, which Workers observability indexes. Callers log
 * ids, sizes and timings only: never bodies, prompts, keys or secrets.
 */
export function createLogger(base: LogFields = {}): Logger {
  const write = (level: string, fields: LogFields, msg: string) => {
    const line = JSON.stringify({ level, time: Date.now(), ...base, ...fields, msg });
    if (level === "error") console.error(line);
    else console.log(line);
  };
  return {
    info: (fields, msg) => write("info", fields, msg),
    warn: (fields, msg) => write("warn", fields, msg),
    error: (fields, msg) => write("error", fields, msg),
    child: (fields) => createLogger({ ...base, ...fields }),
  };
}
