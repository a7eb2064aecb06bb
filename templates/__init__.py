"""The email templates, installed as the package digest.email_templates (a package so the editable install finds it)."""
