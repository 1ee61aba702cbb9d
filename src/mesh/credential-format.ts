// The member credential's event kind and size bound (credentials.ts), apart so the invite parser in
// the app's main chunk reads them without loading the signing code.
export const CREDENTIAL_KIND = 28_673;
/** Encoded credentials are well under this; anything longer is refused unread. */
export const MAX_CREDENTIAL_BYTES = 2048;
