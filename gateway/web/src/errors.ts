// Sentences for error codes. The node sends its own sentence with each
// error and the app shows that; these are for when it cannot (no
// connection, an old node, a proxy's page). They are generated from the
// node's error table (api/errors.gen.ts), plus the codes only the app
// makes.
import { errorTable, type ErrorCode } from "./api/errors.gen";

const appSentences: Record<string, string> = {
  network: "Cannot reach your ChatterBox node. Check that it is running, then try again.",
};

/** A sentence for people for an error code; never the raw code. */
export function sentenceFor(code: string): string {
  return (
    appSentences[code] ??
    errorTable[code as ErrorCode]?.message ??
    "Something went wrong. Try again, and if it keeps happening, check your node's log."
  );
}

/** The sentence for any thrown value. */
export function describe(err: unknown): string {
  if (err && typeof err === "object" && "message" in err && typeof (err as Error).message === "string") {
    const m = (err as Error).message;
    if (m) return m;
  }
  return sentenceFor("");
}

export const knownCodes = [...Object.keys(appSentences), ...Object.keys(errorTable)];
