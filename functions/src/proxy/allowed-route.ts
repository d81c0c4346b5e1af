/** The runner routes callers may reach (DESIGN.md); everything else is a 404 at the edge. */
const TRPC_PROCEDURES = new Set(["chat", "model"]);

export function isAllowedRoute(method: string, path: string): boolean {
  if (path.startsWith("/trpc/")) {
    // A batch path names several procedures: `/trpc/model,chat`.
    const procedures = path.slice("/trpc/".length).split(",");
    return (
      (method === "GET" || method === "POST") && procedures.every((p) => TRPC_PROCEDURES.has(p))
    );
  }
  if (path === "/v1/chat/completions") return method === "POST";
  if (path === "/v1/models") return method === "GET";
  return false;
}
