"""Score a unit from the pipeline's own counts: which pipeline count feeds which 766 indicator.

Every one of the 21 scored 766 indicators has an input now. They come from three places:

- the hourly counts (``portal_sync`` 1.4, ``e_result`` 3.1, ``data_reuse`` 3.3,
  ``online_payment`` 4.6), summed over the period's hours;
- the dossier state evaluated as of a moment (``sinks/asof.py``): on-time handling 2.1, the
  portal's digitisation 3.2 (a digitised component and, where the result is a document, an
  e-result), the data store 3.4, population data 3.5, the satisfaction group 5.1-5.3, and the
  online dossiers of 4.3;
- the procedure catalogue and unit register (``pipeline/scoring/catalogue.py``): 1.1-1.3, 3.6,
  3.7, 4.1, and with the procedures that had dossiers in the period, 4.2, 4.4 and 4.5.

Item 4.3 follows the portal: a dossier counts as online when filed online and, for procedures
with a written result, issued an e-result; the rate is then multiplied by the sync rate (1.4),
so its input is a :class:`Rate`, not counts. An input absent from the counts is not available
(never 0); one present with denominator 0 follows the 766 empty-denominator rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pipeline.scoring.rules import Counts, Rate
from pipeline.scoring.score import IndicatorInput, Scorecard, score_card

PIPELINE_TO_766: Mapping[str, str] = MappingProxyType(
    {
        "published_on_time": "1.1",
        "made_public_on_time": "1.2",
        "complete_records": "1.3",
        "portal_sync": "1.4",
        "on_time": "2.1",
        "e_result": "3.1",
        "digitized_with_result": "3.2",
        "data_reuse": "3.3",
        "data_store": "3.4",
        "population_data": "3.5",
        "population_data_procedures": "3.6",
        "e_certified_copy_units": "3.7",
        "online_services": "4.1",
        "online_services_used": "4.2",
        "fee_procedures_with_fee": "4.4",
        "fee_procedures_paid_online": "4.5",
        "online_payment": "4.6",
        "feedback_on_time": "5.1",
        "feedback_satisfied": "5.2",
        "dossier_satisfied": "5.3",
    }
)
"""Pipeline count id -> the 766 indicator it is the input of (``docs/scoring.md``)."""
HOURLY_RATE_ITEMS: Mapping[str, str] = MappingProxyType(
    {
        "online_filing": "4.3",
        "online_payment": "4.6",
        "e_result": "3.1",
        "digitization": "3.2",
        "data_reuse": "3.3",
        "portal_sync": "1.4",
    }
)
"""Each hourly rate -> the 766 item it stands for on dashboards and in the report (its target
colours the rate). Where the item's input is not the hourly count itself (4.3 and 3.2 follow the
portal's as-of definitions), the rate is shown but not scored from hourly counts."""
ONLINE_DOSSIERS = "online_dossiers"
"""The counts behind 4.3, weighted by ``portal_sync`` into a rate."""
ONLINE_RATE_ID = "4.3"
KNOWN_KEYS = frozenset({*PIPELINE_TO_766, ONLINE_DOSSIERS})

PipelineCounts = Mapping[str, Counts | tuple[int, int]]


def to_766_inputs(counts: PipelineCounts) -> dict[str, IndicatorInput]:
    """Pipeline count id -> (numerator, denominator) into 766 indicator id -> input.

    4.3 is a :class:`Rate` (online dossiers over received, times the sync rate) when both
    ``online_dossiers`` and ``portal_sync`` are given; 0 of 0 when nothing was received.
    Raises ``ValueError`` for an unknown id or counts that are not two non-negative ints."""
    unknown = sorted(set(counts) - KNOWN_KEYS)
    if unknown:
        known = ", ".join(sorted(KNOWN_KEYS))
        raise ValueError(f"unknown pipeline indicator id(s) {unknown}; known: {known}")
    inputs: dict[str, IndicatorInput] = {
        PIPELINE_TO_766[key]: _as_counts(key, value)
        for key, value in counts.items()
        if key in PIPELINE_TO_766
    }
    if ONLINE_DOSSIERS in counts and "portal_sync" in counts:
        online = _as_counts(ONLINE_DOSSIERS, counts[ONLINE_DOSSIERS])
        inputs[ONLINE_RATE_ID] = online_rate(
            online, _as_counts("portal_sync", counts["portal_sync"])
        )
    return inputs


def online_rate(online: Counts, synced: Counts) -> Counts | Rate:
    """4.3 as the portal computes it: the online share times the sync share, in percent."""
    if online.denominator == 0 or synced.denominator == 0:
        return Counts(0, 0)
    return Rate(online.numerator / online.denominator * synced.numerator / synced.denominator * 100)


def score_pipeline_unit(counts: PipelineCounts) -> Scorecard:
    """The 766 scorecard of one unit and period from the pipeline's counts.

    ``counts``: pipeline indicator id -> ``(numerator, denominator)`` (or :class:`Counts`).
    A pipeline indicator absent from ``counts`` is not available (not zero); one present with
    denominator 0 follows the 766 empty-denominator rule (0 points, or full points for the
    complaint rates 5.1/5.2)."""
    reasons = {indicator_id: f"no {key} counts" for key, indicator_id in PIPELINE_TO_766.items()}
    reasons[ONLINE_RATE_ID] = f"no {ONLINE_DOSSIERS} and portal_sync counts"
    return score_card(to_766_inputs(counts), missing_reasons=reasons)


def _as_counts(key: str, value: Counts | tuple[int, int]) -> Counts:
    if isinstance(value, Counts):
        return value
    try:
        numerator, denominator = value
        return Counts(numerator, denominator)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{key}: expected (numerator, denominator), got {value!r}") from exc
