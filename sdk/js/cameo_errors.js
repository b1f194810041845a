// cameo_errors.js: the errors an operator throws to fail a call, and their WIT form (part of
// the cameo JavaScript SDK; import it through cameo.js).

// --- errors -----------------------------------------------------------------------------------

/** A failed call; use `InvalidInput` or `Failed`. */
export class CameoError extends Error {}

/** The input could not be understood (bad JSON, a missing field); retrying will not help. */
export class InvalidInput extends CameoError {}

/** The operator failed for another reason. */
export class Failed extends CameoError {}

/** The WIT `operator-error` for a `CameoError`. */
export function witError(error) {
    return { tag: error instanceof InvalidInput ? "invalid-input" : "failed", val: error.message };
}


/** Why a call fails when `init` was not called or failed. */
export const NOT_INITIALISED = "operator is not initialised: init was not called, or it returned an error";
