import { HubApiError, InvalidApiResponseFormatError } from "@huggingface/hub";
import { GatedRepoError, ModelNotFoundError, ModelStoreError } from "./errors";
import type { HubFetch } from "./hub-fetch";

export interface HubTarget {
  repo: string;
  revision: string;
  file: string;
  endpoint: string;
}

/**
 * Turns what the Hub said into a domain error, or `"retry"` for what deserves another attempt
 * (5xx, 429, dropped or stalled connections). Messages name the repo/revision/file, never the token.
 */
export function classifyHubError(
  error: unknown,
  hub: HubFetch,
  target: HubTarget,
): ModelStoreError | "retry" {
  if (error instanceof ModelStoreError) return error;
  if (error instanceof InvalidApiResponseFormatError) {
    return new ModelStoreError(
      `${target.endpoint} answered in a way the Hub client does not understand (${error.message})`,
      { cause: error },
    );
  }
  const status = error instanceof HubApiError ? error.statusCode : hub.lastFailure?.status;
  const code = hub.lastFailure?.code;
  const { repo, revision, file, endpoint } = target;
  if (hub.idleTimedOut || status === undefined) return "retry"; // network error, drop or stall
  if (status >= 500 || status === 429 || status === 408) return "retry";
  if (code === "GatedRepo") return new GatedRepoError(repo, status, { cause: error });
  if (code === "RepoNotFound") {
    return new ModelNotFoundError(
      "repo",
      `repository ${repo} not found on ${endpoint} (if it is private or gated, set HF_TOKEN)`,
      { cause: error },
    );
  }
  if (code === "RevisionNotFound") {
    return new ModelNotFoundError("revision", `revision "${revision}" not found in ${repo}`, {
      cause: error,
    });
  }
  if (code === "EntryNotFound" || status === 404) {
    return new ModelNotFoundError("file", `file ${file} not found in ${repo} at "${revision}"`, {
      cause: error,
    });
  }
  if (status === 401 || status === 403) return new GatedRepoError(repo, status, { cause: error });
  return new ModelStoreError(
    `the Hub answered HTTP ${status} for ${repo}/${file} at "${revision}"`,
    {
      cause: error,
    },
  );
}
