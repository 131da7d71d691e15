import { Metadata } from "@grpc/grpc-js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bearerHeader, isAuthorized, parseBearer, tokenMatches } from "../../proto/src/grpc/auth.js";

describe("bearer tokens", () => {
  it("matches exactly the expected token", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), fc.string({ maxLength: 64 }), (a, b) => {
        expect(tokenMatches(a, b)).toBe(a === b);
        expect(tokenMatches(a, a)).toBe(true);
      }),
    );
  });

  it("parses the bearer scheme only", () => {
    expect(parseBearer("Bearer abc")).toBe("abc");
    expect(parseBearer("bearer  abc ")).toBe("abc");
    expect(parseBearer("Basic abc")).toBeUndefined();
    expect(parseBearer("Bearer")).toBeUndefined();
    expect(parseBearer("Bearer a b")).toBeUndefined();
    expect(parseBearer("abc")).toBeUndefined();
  });

  it("round-trips any token without whitespace", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[\x21-\x7e]{1,64}$/), (token) => {
        expect(parseBearer(bearerHeader(token))).toBe(token);
      }),
    );
  });

  it("authorizes only one matching authorization header", () => {
    const with_ = (...values: string[]) => {
      const metadata = new Metadata();
      for (const value of values) metadata.add("authorization", value);
      return metadata;
    };
    expect(isAuthorized(with_(), "t0k")).toBe(false);
    expect(isAuthorized(with_("Bearer t0k"), "t0k")).toBe(true);
    expect(isAuthorized(with_("Bearer t0kx"), "t0k")).toBe(false);
    expect(isAuthorized(with_("Bearer t0k", "Bearer t0k"), "t0k")).toBe(false);
  });
});
