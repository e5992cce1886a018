"""Score a unit from the pipeline's own indicator counts (for ``chiso766 score``).

The pipeline counts ten indicators (docs/architecture.md, "Indicators"). Each maps onto one 766 indicator;
the other 766 indicators need inputs the pipeline does not have (the national procedure
database, the citizens' data store, the e-certified-copy service register) and come out as
:class:`NotAvailable` with the reason, never as zero. A group with such an indicator has
``points`` = ``NotAvailable``; its ``available_points``/``available_max`` say what is known.

Where the pipeline's definition and the portal's differ, the pipeline's is scored as is:

- ``online_filing`` -> 4.3: the portal also requires an e-result for procedures with a written
  result and multiplies by the sync rate (spec 4.3); the pipeline counts channel = online.
- ``digitization`` -> 3.2: the portal also requires an e-result where the procedure has a
  written result (spec 3.2); the pipeline counts a component digitised at reception.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pipeline.scoring.rules import Counts
from pipeline.scoring.score import Scorecard, score_card

PIPELINE_TO_766: Mapping[str, str] = MappingProxyType(
    {
        "portal_sync": "1.4",
        "on_time": "2.1",
        "e_result": "3.1",
        "digitization": "3.2",
        "data_reuse": "3.3",
        "online_filing": "4.3",
        "online_payment": "4.6",
        "feedback_on_time": "5.1",
        "feedback_satisfied": "5.2",
        "dossier_satisfied": "5.3",
    }
)
"""Pipeline indicator id -> 766 indicator id (docs/architecture.md, "Indicators")."""

_PROCEDURE_DB = "needs the national procedure database (CSDLQG về TTHC), not in the pipeline"
NOT_IN_PIPELINE: Mapping[str, str] = MappingProxyType(
    {
        "1.1": _PROCEDURE_DB + " (publication decisions)",
        "1.2": _PROCEDURE_DB + " (make-public actions)",
        "1.3": _PROCEDURE_DB + " (completeness of procedure records)",
        "3.4": "needs the personal/organisation data-store flags (DuocLayTuKhoDMQG), "
        "not in event contract v1",
        "3.5": "needs VNeID / population-database flags, not in event contract v1",
        "3.6": "counts procedures connected to the population database, not in the pipeline",
        "3.7": "needs the register of communes offering e-certified copies, not in the pipeline",
        "4.1": _PROCEDURE_DB + " (online-service level of each procedure)",
        "4.2": _PROCEDURE_DB + " (catalogue of online services)",
        "4.4": "counts distinct fee-bearing procedures with fee data; needs the procedure "
        "catalogue's fee flags, not in the pipeline",
        "4.5": "counts distinct fee-bearing procedures with an online payment; needs the "
        "procedure catalogue's fee flags, not in the pipeline",
    }
)
"""766 indicator id -> why the pipeline cannot compute it."""

PipelineCounts = Mapping[str, Counts | tuple[int, int]]


def to_766_inputs(counts: PipelineCounts) -> dict[str, Counts]:
    """Pipeline indicator id -> (numerator, denominator) into 766 indicator id -> Counts.

    Raises ``ValueError`` for an unknown pipeline id or counts that are not two
    non-negative ints."""
    unknown = sorted(set(counts) - set(PIPELINE_TO_766))
    if unknown:
        known = ", ".join(sorted(PIPELINE_TO_766))
        raise ValueError(f"unknown pipeline indicator id(s) {unknown}; known: {known}")
    return {PIPELINE_TO_766[key]: _as_counts(key, value) for key, value in counts.items()}


def score_pipeline_unit(counts: PipelineCounts) -> Scorecard:
    """The 766 scorecard of one unit and period from the pipeline's counts.

    ``counts``: pipeline indicator id -> ``(numerator, denominator)`` (or :class:`Counts`).
    A pipeline indicator absent from ``counts`` is not available (not zero); one present with
    denominator 0 follows the 766 empty-denominator rule (0 points, or full points for the
    complaint rates 5.1/5.2)."""
    reasons = dict(NOT_IN_PIPELINE)
    for key, indicator_id in PIPELINE_TO_766.items():
        reasons[indicator_id] = f"no {key} counts for this unit and period"
    return score_card(to_766_inputs(counts), missing_reasons=reasons)


def _as_counts(key: str, value: Counts | tuple[int, int]) -> Counts:
    if isinstance(value, Counts):
        return value
    try:
        numerator, denominator = value
        return Counts(numerator, denominator)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{key}: expected (numerator, denominator), got {value!r}") from exc
