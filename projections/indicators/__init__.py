"""Pseudonymised process indicators for the steering group (Lenkungsgruppe)."""
