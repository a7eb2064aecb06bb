"""The demo's seed data, installed as the package digest.seeds (a package so the editable install finds it)."""
