const ITEM = "phi4-edge.apiKey";

/** The API key lives in this tab's sessionStorage only: gone when the tab closes. */
export const apiKeyStore = {
  read(): string {
    return sessionStorage.getItem(ITEM) ?? "";
  },
  write(key: string): void {
    if (key) sessionStorage.setItem(ITEM, key);
    else sessionStorage.removeItem(ITEM);
  },
};
