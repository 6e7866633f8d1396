// Shell quoting: the one place that turns a value into a POSIX sh word.

/** Single-quotes `value` for POSIX sh; an embedded ' becomes '\'' so nothing inside is ever expanded. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Characters that mean something to a shell; config fields that reach a command line must not contain them. */
export const SHELL_METACHARACTERS = /[\s;&|<>()$`\\"'*?[\]#~=%!{}^,]/;
