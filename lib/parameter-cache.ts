/** SSM parameters and secrets are cached per container for five minutes, so a warm invocation makes no call. */
export const maxAge = 300;
