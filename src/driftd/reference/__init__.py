"""Reference profiles: building, saving, loading and versioning."""
