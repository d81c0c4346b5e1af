import { errorCode, errorData } from "@phi4-edge/shared/client";

/** One line a person can act on, for any error a call can end with. Never a stack trace. */
export function describeError(error: unknown, url: string): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case "UNAUTHORIZED":
      return `the API key was refused by ${url} (pass --api-key or set PHI4_API_KEY)`;
    case "TOO_MANY_REQUESTS": {
      const retry = errorData(error).retryAfterMs;
      return `too many requests${retry ? `; retry in ${Math.ceil(retry / 1000)} s` : ""}: ${message}`;
    }
    case "SERVICE_UNAVAILABLE":
      return `the model is not ready yet (${errorData(error).phase ?? "unavailable"}): ${message}`;
    case "BAD_REQUEST":
      return `bad request: ${message}`;
    case undefined:
      break;
    default:
      return `${code}: ${message}`;
  }
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code === "ECONNREFUSED" || /fetch failed/i.test(message)) {
    return `cannot reach ${url}${cause?.code ? ` (${cause.code})` : ""}: is the stack running? Start one: npm start (Phi-4), or npm run demo -- --keep (offline, a tiny model)`;
  }
  return message;
}
