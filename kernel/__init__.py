"""The shared kernel: small rules every bounded context speaks the same way.

Domain error base classes (:mod:`kernel.errors`), the Berlin-date clock (:mod:`kernel.clock`),
the "no personal data in free text" check (:mod:`kernel.person_free`), the special categories
of personal data (:mod:`kernel.categories`), Glasl's escalation stages (:mod:`kernel.glasl`)
and whether an integration goal is on track (:mod:`kernel.indicators`). Each rule lives
here once; the services' domains, the runtime, the projections and the gateway import it.

The kernel uses the standard library only and imports nothing of the project, so a domain
that may import nothing but the standard library, ``eventsourcing.domain`` and this kernel
stays free of infrastructure. ``contracts`` does not import it: contracts stay independent.
"""

from __future__ import annotations
