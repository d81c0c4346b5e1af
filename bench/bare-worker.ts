/**
 * The edge bench's baseline: a Worker that only forwards each request to the runner with the
 * runner's secret (no auth, limits, logging or body checks), under the same `wrangler dev`.
 */
interface BareEnv {
  RUNNER_URL: string;
  RUNNER_SECRET: string;
}

export default {
  async fetch(request: Request, env: BareEnv): Promise<Response> {
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    headers.set("authorization", `Bearer ${env.RUNNER_SECRET}`);
    headers.delete("host");
    return fetch(`${env.RUNNER_URL}${url.pathname}${url.search}`, {
      method: request.method,
      headers,
      body: request.body,
    });
  },
};
