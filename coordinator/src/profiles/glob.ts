/**
 * Case-insensitive globs for model names and families: `*` matches any run of characters, `?` one
 * character; everything else is literal. The whole string must match (use `*x*` for "contains x").
 */
export function globToRegExp(glob: string): RegExp {
  let source = "";
  for (const ch of glob) {
    if (ch === "*") source += ".*";
    else if (ch === "?") source += ".";
    else source += ch.replace(/[.+^${}()|[\]\\/-]/g, "\\$&");
  }
  return new RegExp(`^${source}$`, "i");
}

export function globMatches(glob: string, value: string): boolean {
  return globToRegExp(glob).test(value);
}
