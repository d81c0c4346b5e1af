import { HubApiError } from "@huggingface/hub";
import { type Http1Response, http1Get } from "./http1-get";
import type { HubFetch } from "./hub-fetch";

const MAX_REDIRECTS = 5;

export interface RangeRequestOptions {
  /** `bytes=a-b`, or none for the whole file. */
  range?: string;
  accessToken?: string;
  idleMs: number;
  signal: AbortSignal;
  /** Where the status, the Hub's error headers and an idle timeout are recorded for classification. */
  hub: HubFetch;
}

/**
 * `GET url` (the Hub's resolve URL, redirected to the CDN), following redirects; the token goes
 * to the Hub's origin only, as `fetch` does. A 2xx answer is returned with its body unread;
 * anything else throws `HubApiError` with the status and the Hub's error headers recorded.
 */
export async function rangeRequest(url: string, o: RangeRequestOptions): Promise<Http1Response> {
  const origin = new URL(url).origin;
  let target = new URL(url);
  for (let hops = 0; ; hops++) {
    const authorized = Boolean(o.accessToken) && target.origin === origin;
    const res = await http1Get(target, {
      headers: {
        "User-Agent": "phi4-edge-runner",
        Accept: "*/*",
        ...(o.range ? { Range: o.range } : {}),
        ...(authorized ? { Authorization: `Bearer ${o.accessToken}` } : {}),
      },
      signal: o.signal,
      idleMs: o.idleMs,
      onIdle: () => {
        o.hub.idleTimedOut = true;
        return new Error(`no bytes from the Hub for ${o.idleMs} ms`);
      },
    });
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location && hops < MAX_REDIRECTS) {
      res.destroy();
      target = new URL(location, target);
      continue;
    }
    if (res.status >= 200 && res.status < 300) {
      o.hub.lastStatus = res.status;
      return res;
    }
    const code = res.headers.get("x-error-code");
    const message = res.headers.get("x-error-message");
    o.hub.lastFailure = {
      status: res.status,
      ...(code ? { code } : {}),
      ...(message ? { message } : {}),
    };
    res.destroy();
    throw new HubApiError(target.href, res.status);
  }
}
