"""Statistical disclosure control for the steering indicators: the cell-key method.

Suppressing small groups alone is defeated by differencing: open one case for a named person,
read a count before and after, and the change of one reveals that person's stage. The
cell-key method (used by Germany's statistical offices for the 2022 census) adds noise that
is *consistent*: each record carries a pseudo-random record key; a cell's key is the sum of
its contributors' record keys (modulo 1); the noise is looked up from the cell key (here the
cell key is a keyed hash of the cell's count and digest sum instead, below: the same
properties, and no secret where the sums are kept). The same
set of contributors always gets the same noise, so asking again or in overlapping ways cannot
average it away, and a set that differs by one person gets fresh, independent noise, so the
difference between two answers no longer tells the change.

Parameters (docs/data-protection.md):

- noise ``d`` in -2..+2 with probabilities 5 %, 20 %, 50 %, 20 %, 5 % (unbiased, variance
  0.8), chosen by where the cell key falls in those cumulative intervals;
- a perturbed count below ``MIN_SHOWN`` (5) is suppressed; a true zero stays zero (an empty
  cell is not a person);
- a record's digest is the first 32 bits of SHA-256 over its id (no secret); a cell keeps
  the count and the plain sum of its records' digests, and its cell key is the first 32 bits
  of HMAC-SHA256 over (count, sum modulo 2^32) under the deployment's secret
  (``HUB_INDICATOR_KEY``): the same set of records always gets the same key, a set that
  differs by one record an unrelated one, and without the secret nobody can compute a cell's
  noise. Sums of digests can be kept by the projections per group (they need no secret);
  only the gateway, which holds the secret, turns them into cell keys.

Everything here is pure; the SQL that sums record digests lives beside the indicator queries.
"""

from __future__ import annotations

import hashlib
import hmac

MIN_SHOWN = 5
KEY_SPACE = 2**32  # record and cell keys are integers in [0, KEY_SPACE)
#: (noise, probability): the perturbation table, in the order of its cumulative intervals
NOISE = ((-2, 0.05), (-1, 0.20), (0, 0.50), (1, 0.20), (2, 0.05))


def record_digest(record_id: str) -> int:
    """A record's digest: the first 32 bits of SHA-256 over its id (as text)."""
    return int.from_bytes(hashlib.sha256(record_id.encode()).digest()[:4])


def cell_key(secret: str, count: int, digest_sum: int) -> int:
    """The cell key of a cell of ``count`` records whose digests sum to ``digest_sum``."""
    message = f"{count}:{digest_sum % KEY_SPACE}".encode()
    return int.from_bytes(hmac.new(secret.encode(), message, hashlib.sha256).digest()[:4])


def noise(cell_key: int) -> int:
    """The noise for a cell whose key is ``cell_key`` (any integer; taken modulo KEY_SPACE)."""
    position = (cell_key % KEY_SPACE) / KEY_SPACE
    upper = 0.0
    for value, probability in NOISE:
        upper += probability
        if position < upper:
            return value
    return NOISE[-1][0]


def perturbed(count: int, cell_key: int) -> int:
    """The count as published before suppression: never negative, zero stays zero."""
    if count <= 0:
        return 0
    return max(0, count + noise(cell_key))


def protect(count: int, cell_key: int) -> int | None:
    """The published count: perturbed, and ``None`` (suppressed) when below MIN_SHOWN
    (a true zero is published as zero)."""
    shown = perturbed(count, cell_key)
    if shown == 0 and count <= 0:
        return 0
    return shown if shown >= MIN_SHOWN else None
