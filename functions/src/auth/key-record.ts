import { z } from "zod";

/** Per-caller overrides of the default limits. */
export const Limits = z.object({
  perMinute: z.number().int().positive().optional(),
  streams: z.number().int().positive().optional(),
});
export type Limits = z.infer<typeof Limits>;

/** What the KEYS namespace stores as metadata next to a key's hash. */
export const KeyRecord = z.object({
  id: z.string(),
  name: z.string(),
  /** ISO timestamp. */
  created: z.string(),
  revoked: z.string().optional(),
  limits: Limits.optional(),
});
export type KeyRecord = z.infer<typeof KeyRecord>;
