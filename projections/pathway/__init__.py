"""A person's path to naturalisation (Einbürgerung, § 10 StAG): pure, data-driven readiness rules.

See ``projections.pathway.readiness`` for the API and ``rules.json`` for the law versions.
"""
