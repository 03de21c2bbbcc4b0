"""privacy-desk: the GDPR personal-data module (domain code, free of Chalice)."""
