"""Storage: schema, engines and migrations."""
