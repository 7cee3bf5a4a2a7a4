"""The preview service: cache, single-flight and an account-wide rate limiter around CAMS."""
