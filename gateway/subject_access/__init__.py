"""The data-protection officer's Art. 15 report: what the hub holds on a person, their
consents, the recipients of their data and the reads about them, as JSON, GraphQL and PDF."""
