/** Which file to make present, and where: what the runner's configuration says (`env.ts`). */
export interface ModelSource {
  /** `owner/name` on the Hub. */
  repo: string;
  /** The GGUF file's path in the repo. */
  file: string;
  /** Branch, tag or 40-hex commit. */
  revision: string;
  /** The volume's Hugging Face cache folder (`models--owner--name/…` inside it). */
  cacheDir: string;
  /** The Hub's base URL. */
  hubUrl: string;
  accessToken?: string;
  /** Serve only what the volume holds; never call the Hub. */
  offline?: boolean;
  /** Ranged requests in flight at once for the download. */
  connections: number;
}
