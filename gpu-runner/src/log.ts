import pino from "pino";

/**
 * The runner's JSON logger. Prompts, tokens and secrets are never logged; the redact list is
 * a safety net for headers that might slip into an object.
 */
export function createLogger(
  level: pino.LevelWithSilent = "info",
  destination?: pino.DestinationStream,
): pino.Logger {
  return pino(
    {
      level,
      base: { service: "gpu-runner" },
      redact: {
        paths: [
          "authorization",
          "*.authorization",
          "headers.authorization",
          "HF_TOKEN",
          "*.HF_TOKEN",
        ],
        censor: "[redacted]",
      },
    },
    destination ?? pino.destination({ sync: true }),
  );
}
