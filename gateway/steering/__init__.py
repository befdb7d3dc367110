"""The steering group's view (Lenkungsgruppe): pseudonymised, aggregated indicators only, and
the steering group's own agenda: systemic gaps, escalated conflicts, the integration concept."""
