"""KIM case management over GraphQL: cases, consent, referrals, mediation, systemic gaps.

Code lists (target groups, legal spheres, life domains, data categories, purposes, reasons)
are plain strings here; the service validates them and names the field at fault.
"""
