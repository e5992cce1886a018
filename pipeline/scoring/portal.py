"""Parse one national-portal evaluation response into per-unit counts and published points.

The portal's ``/api/v1/reporting/evaluation/<group>`` answers in two shapes
(``shared/data/portal-766/README.md``):

- **overview/evaluation** (transparency, dossier-digitized, handling-satisfaction): the
  province in ``overview`` and its units in ``evaluation``, each with ``metrics[]`` of
  ``code``/``numerator``/``denominator``/``ratio``/``score``/``maxScore``;
- **parent/children** (dvc-progress-tree, provide-online-tree, formality-online-payment-tree):
  the province in ``parent`` and its units in ``children``, with named count fields.

The group is recognised from the content (metric codes, count field names), not from the
file name. A unit whose record carries none of its group's count fields has ``inputs = None``
(not checkable). Anything else we cannot read raises :class:`PortalDataError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.errors import PortalDataError
from pipeline.scoring.groups import (
    ONLINE_SERVICE,
    PAYMENT,
    PROGRESS,
    Group,
    group_by_id,
    indicator_by_portal_code,
)
from pipeline.scoring.rules import Counts, Rate
from pipeline.scoring.score import IndicatorInput

SHAPE_METRICS = "overview/evaluation"
SHAPE_TREE = "parent/children"

# Tree groups: indicator id -> (numerator fields summed, denominator field), per group.
_TREE_FIELDS: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    PROGRESS.id: {"2.1": (("totalOnTime",), "totalReceived")},
    ONLINE_SERVICE.id: {
        "4.1": (("partialCount", "fullCount"), "authorityCount"),
        "4.2": (("onlineDossierCount",), "onlineServiceTotal"),
        "4.3": (("channelOnlineSum",), "channelTotalSum"),
    },
    PAYMENT.id: {
        "4.4": (("totalFeeDossierFormality",), "totalFeeFormality"),
        "4.5": (("totalDossierOnlineFormalityPaymentSuccess",), "totalFeeFormality"),
        "4.6": (("totalDossierOnlinePaymentSuccess",), "totalDossierFinancialObligation"),
    },
}

# A field that only one tree group has, to recognise the group from the parent record.
_TREE_MARKERS: tuple[tuple[str, str], ...] = (
    ("totalOnTime", PROGRESS.id),
    ("channelTotalSum", ONLINE_SERVICE.id),
    ("totalDossierOnlinePaymentSuccess", PAYMENT.id),
)


@dataclass(frozen=True)
class PortalUnit:
    """One unit (or the province) as the portal published it.

    ``inputs``: indicator id -> counts (or a published rate where the portal gives no counts),
    ``None`` if the record carries no counts. ``applicable``: the indicator ids present for
    this unit. ``portal_indicator_points``: per-indicator points as published (metrics shape
    only; ``None`` where the portal shows ``null``).
    """

    unit_id: str
    unit_code: str | None
    name: str
    level: str
    is_province: bool
    portal_points: float
    portal_max: float
    inputs: Mapping[str, IndicatorInput] | None
    applicable: tuple[str, ...]
    portal_indicator_points: Mapping[str, float | None]


@dataclass(frozen=True)
class PortalEvaluation:
    group: Group
    shape: str
    units: tuple[PortalUnit, ...]


def parse_evaluation(document: Any) -> PortalEvaluation:
    """Read a decoded portal response (the whole ``{code, data, message}`` object, or just its
    ``data``). Raises :class:`PortalDataError` naming what is wrong; the caller adds the file."""
    data = _payload(document)
    if "overview" in data or "evaluation" in data:
        return _parse_metrics_shape(data)
    if "parent" in data or "children" in data:
        return _parse_tree_shape(data)
    keys = ", ".join(sorted(map(str, data))) or "none"
    raise PortalDataError(
        "not a 766 evaluation response: expected overview/evaluation or parent/children, "
        f"found keys: {keys}"
    )


def _payload(document: Any) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise PortalDataError(f"expected a JSON object, got {type(document).__name__}")
    shape_keys = {"overview", "evaluation", "parent", "children"}
    if "data" in document and not shape_keys & set(document):
        code = document.get("code")
        if code not in (None, "OK", 0, 200, "200"):
            raise PortalDataError(
                f"the portal answered an error: code={code!r} message={document.get('message')!r}"
            )
        data = document["data"]
        if not isinstance(data, Mapping):
            raise PortalDataError(f"'data' is {type(data).__name__}, expected an object")
        return data
    return document


def _parse_metrics_shape(data: Mapping[str, Any]) -> PortalEvaluation:
    overview = _record(data, "overview")
    evaluation = data.get("evaluation")
    if not isinstance(evaluation, list):
        raise PortalDataError("'evaluation' is missing or not a list")
    records = [(overview, True)] + [
        (_as_record(r, f"evaluation[{k}]"), False) for k, r in enumerate(evaluation)
    ]
    group = _metrics_group(records)
    units = tuple(
        _metrics_unit(
            group, rec, is_province, where="overview" if is_province else f"evaluation[{k - 1}]"
        )
        for k, (rec, is_province) in enumerate(records)
    )
    return PortalEvaluation(group=group, shape=SHAPE_METRICS, units=units)


def _metrics_group(records: list[tuple[Mapping[str, Any], bool]]) -> Group:
    groups: dict[str, Group] = {}
    for rec, _ in records:
        for metric in _metrics(rec):
            found = indicator_by_portal_code(str(metric.get("code")))
            if found is not None:
                groups[found[0].id] = found[0]
    if len(groups) != 1:
        what = "no known metric code" if not groups else f"metrics of {sorted(groups)}"
        raise PortalDataError(f"cannot tell the score group: {what}")
    return next(iter(groups.values()))


def _metrics_unit(
    group: Group, rec: Mapping[str, Any], is_province: bool, *, where: str
) -> PortalUnit:
    inputs: dict[str, IndicatorInput] = {}
    published: dict[str, float | None] = {}
    applicable: list[str] = []
    for k, metric in enumerate(_metrics(rec)):
        code = str(metric.get("code"))
        found = indicator_by_portal_code(code)
        if found is None or found[0].id != group.id:
            if _number(metric.get("maxScore"), f"{where}.metrics[{k}].maxScore", True):
                raise PortalDataError(
                    f"{where}: metric {code!r} carries points but is not an indicator of "
                    f"{group.id}; the engine cannot score it"
                )
            continue  # an unknown monitoring-only metric: nothing to score
        indicator = found[1]
        applicable.append(indicator.id)
        at = f"{where}.metrics[{k}] ({code})"
        published[indicator.id] = _number(metric.get("score"), f"{at}.score", optional=True)
        numerator, denominator = metric.get("numerator"), metric.get("denominator")
        if numerator is None and denominator is None:
            ratio = _number(metric.get("ratio"), f"{at}.ratio", optional=True)
            if ratio is not None:
                if ratio < 0:
                    raise PortalDataError(f"{at}.ratio is {ratio!r}, expected a percent >= 0")
                inputs[indicator.id] = Rate(ratio)
            continue
        inputs[indicator.id] = Counts(
            _count(numerator, f"{at}.numerator"), _count(denominator, f"{at}.denominator")
        )
    scored = [i for i in applicable if group.indicator(i).is_scored]
    has_counts = all(i in inputs for i in scored) if scored else False
    return _unit(rec, is_province, where, inputs if has_counts else None, applicable, published)


def _parse_tree_shape(data: Mapping[str, Any]) -> PortalEvaluation:
    parent = _record(data, "parent")
    children = data.get("children")
    if not isinstance(children, list):
        raise PortalDataError("'children' is missing or not a list")
    group = next((group_by_id(g) for field, g in _TREE_MARKERS if field in parent), None)
    if group is None:
        raise PortalDataError(
            "cannot tell the score group: the parent record has none of "
            + ", ".join(f for f, _ in _TREE_MARKERS)
        )
    fields = _TREE_FIELDS[group.id]
    records = [(parent, True, "parent")] + [
        (_as_record(c, f"children[{k}]"), False, f"children[{k}]") for k, c in enumerate(children)
    ]
    units = []
    for rec, is_province, where in records:
        wanted = {f for nums, den in fields.values() for f in (*nums, den)}
        present = {f for f in wanted if rec.get(f) is not None}
        inputs: dict[str, IndicatorInput] | None = None
        if present == wanted:
            inputs = {
                ind: Counts(
                    sum(_count(rec[f], f"{where}.{f}") for f in nums),
                    _count(rec[den], f"{where}.{den}"),
                )
                for ind, (nums, den) in fields.items()
            }
        elif present:
            missing = ", ".join(sorted(wanted - present))
            raise PortalDataError(f"{where}: has some counts of {group.id} but not {missing}")
        units.append(_unit(rec, is_province, where, inputs, tuple(fields), {}))
    return PortalEvaluation(group=group, shape=SHAPE_TREE, units=tuple(units))


def _unit(
    rec: Mapping[str, Any],
    is_province: bool,
    where: str,
    inputs: Mapping[str, IndicatorInput] | None,
    applicable: list[str] | tuple[str, ...],
    published: Mapping[str, float | None],
) -> PortalUnit:
    points = _first_number(rec, ("totalScore", "score"), where)
    maximum = _first_number(rec, ("totalMaxScore", "maxScore"), where)
    unit_id = rec.get("departmentId") or rec.get("departmentCode")
    if not unit_id:
        raise PortalDataError(f"{where}: no departmentId or departmentCode")
    return PortalUnit(
        unit_id=str(unit_id),
        unit_code=str(rec["departmentCode"]) if rec.get("departmentCode") else None,
        name=str(rec.get("departmentName") or ""),
        level=str(
            rec.get("departmentLevel") or rec.get("level") or ("PROVINCE" if is_province else "")
        ),
        is_province=is_province,
        portal_points=points,
        portal_max=maximum,
        inputs=inputs,
        applicable=tuple(applicable),
        portal_indicator_points=dict(published),
    )


def _record(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    if key not in data:
        raise PortalDataError(f"'{key}' is missing")
    return _as_record(data[key], key)


def _as_record(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PortalDataError(f"{where} is {type(value).__name__}, expected an object")
    return value


def _metrics(rec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    metrics = rec.get("metrics")
    if not isinstance(metrics, list) or not all(isinstance(m, Mapping) for m in metrics):
        name = rec.get("departmentName") or rec.get("departmentId") or "a unit"
        raise PortalDataError(f"{name}: 'metrics' is missing or not a list of objects")
    return metrics


def _first_number(rec: Mapping[str, Any], keys: tuple[str, ...], where: str) -> float:
    for key in keys:
        if rec.get(key) is not None:
            value = _number(rec[key], f"{where}.{key}")
            assert value is not None
            return value
    raise PortalDataError(f"{where}: none of {', '.join(keys)}")


def _number(value: Any, where: str, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PortalDataError(f"{where} is {value!r}, expected a number")
    return float(value)


def _count(value: Any, where: str) -> int:
    number = _number(value, where)
    assert number is not None
    if number < 0 or number != int(number):
        raise PortalDataError(f"{where} is {value!r}, expected a whole count >= 0")
    return int(number)
