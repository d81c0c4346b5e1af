/** The runner routes callers may reach; everything else is a 404 at the edge. */
const TRPC_PROCEDURES = new Set(["chat", "model"]);

export function isAllowedRoute(method: string, path: string): boolean {
  if (path.startsWith("/trpc/")) {
    // A batch path names several procedures: `/trpc/model,chat`.
    return (
      (method === "GET" || method === "POST") &&
      trpcProcedures(path).every((p) => TRPC_PROCEDURES.has(p))
    );
  }
  if (path === "/v1/chat/completions") return method === "POST";
  if (path === "/v1/models") return method === "GET";
  return false;
}

/**
 * How many chats one request runs. The limiter admits an HTTP request once, and a tRPC batch
 * (`/trpc/chat,chat?batch=1`) runs every procedure in its path: more than one is refused.
 */
export function chatsIn(path: string): number {
  if (!path.startsWith("/trpc/")) return path === "/v1/chat/completions" ? 1 : 0;
  return trpcProcedures(path).filter((p) => p === "chat").length;
}

function trpcProcedures(path: string): string[] {
  return path.slice("/trpc/".length).split(",");
}
