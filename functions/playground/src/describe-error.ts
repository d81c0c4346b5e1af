import { errorCode, errorData } from "@phi4-edge/shared/client";

/** What went wrong, in a sentence a person can act on; never a stack trace. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const data = errorData(error);
  switch (errorCode(error)) {
    case "UNAUTHORIZED":
      return "The API key was refused. Paste a valid key above (npm run keys -- create --name NAME makes one).";
    case "TOO_MANY_REQUESTS": {
      const retry =
        data.retryAfterMs === undefined ? "" : ` Retry in ${retryIn(data.retryAfterMs)}.`;
      return `Too many requests for this key.${retry}`;
    }
    case "SERVICE_UNAVAILABLE":
      return `The model runner is not ready yet (${data.phase ?? "waking"}). Try again in a minute.`;
    case "BAD_REQUEST":
      return `The request was refused: ${message}`;
    case "PAYLOAD_TOO_LARGE":
      return "This conversation is too long for the edge. Start a new chat.";
    case "BAD_GATEWAY":
      return "The edge cannot reach the model runner.";
    case "GATEWAY_TIMEOUT":
      return "The model runner did not answer in time.";
    case "NOT_FOUND":
    case "INTERNAL_SERVER_ERROR":
    case "CLIENT_CLOSED_REQUEST":
      return message;
    case undefined:
      // fetch's own failure: no HTTP answer at all.
      return /fetch|network/i.test(message) ? "Cannot reach the edge. Is it running?" : message;
  }
}

function retryIn(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return seconds < 120 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}
