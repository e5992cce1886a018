"""Read the as-of 766 counts from the merged dossier state: clocks are judged at read time.

On-time handling, complaints and dissatisfaction cannot be pre-aggregated by hour: a pending
dossier turns overdue when its due time passes, with no event. So these counts are evaluated
here, for one period and one moment ``as_of_ms``, from ``dossier_state`` merged as in the
``dossier_timeline`` view. Both queries are bounded by the period: the snapshot rows are
pre-filtered on the reception (or complaint) time before the merge.

The rules (facts at or after ``as_of_ms`` are not known yet):

- a dossier counts in the period of its reception, when that is before ``as_of_ms``;
- ``on_time``: two or more supplement requests: overdue; exactly one: its handling ends at the
  request (the clock stops while the applicant holds the dossier; the contract carries no
  re-promised date), or at the completion if that came first; otherwise the completion; the
  end is on time when at or before the due time. A dossier with no end is on time while its
  due time is not before ``as_of_ms`` ("not yet due"), overdue after;
- ``online_dossiers`` (766 item 4.3): received online, and an e-result issued when the
  procedure's result is a document (before ``as_of_ms``); ``digitized_with_result`` (3.2): a component digitised at
  reception, and an e-result when the result is a document;
- ``dossier_satisfied`` (5.3): on time, no complaint and no dissatisfied rating so far;
- a complaint counts in the period of its first reception; ``feedback_on_time`` (5.1): answered
  at or before its due time, or unanswered and not yet due; ``feedback_satisfied`` (5.2):
  on time and not rated dissatisfied so far.
"""

from __future__ import annotations

from pipeline.scoring.state_inputs import FeedbackRow, ProcedureRow, StateCounts, state_counts
from sinks.schema import dossier_timeline_sql
from sinks.store import Store


def dossier_rows(
    store: Store,
    database: str,
    start_ms: int,
    end_ms: int,
    as_of_ms: int,
    judge_ms: int | None = None,
) -> list[ProcedureRow]:
    """Sums per leaf unit and procedure (``DOSSIER_KEYS`` of ``pipeline.scoring.state_inputs``) of
    dossiers received in [start_ms, min(end_ms, as_of_ms)). ``judge_ms`` (default ``as_of_ms``)
    is the moment a dossier without an end is judged at: a projection knows the facts up to
    ``as_of_ms`` and asks which pending dossiers will be past due at the period end."""
    t = int(as_of_ms)
    judge = t if judge_ms is None else int(judge_ms)
    stop = min(int(end_ms), t)
    start = int(start_ms)
    prefilter = (
        f"WHERE dossier_id IN (SELECT dossier_id FROM {database}.dossier_state "
        f"WHERE received_key != '' AND received_ms >= {start} AND received_ms < {stop})"
    )
    rows = store.query(
        f"""SELECT unit, procedure, count(),
                sum(on_time), sum(online_ok), sum(any_synced), sum(digitized_ok),
                sum(any_data_store), sum(any_population_data),
                sum(on_time AND NOT complained AND NOT unhappy),
                max(received_channel = 'online'), max(fee > 0), max(fee > 0 AND any_paid_online = 1)
            FROM (
                SELECT unit, procedure, received_channel, fee, any_paid_online, any_synced,
                    any_data_store, any_population_data,
                    length(arrayFilter(x -> x < {t}, supplement_times)) AS requests,
                    first_completed_key != '' AND completed_at_ms < {t} AS done,
                    multiIf(
                        requests >= 2, 0,
                        requests = 1,
                            if(done AND completed_at_ms < supplement_times[1],
                               completed_at_ms, supplement_times[1]) <= due_at_ms,
                        done, completed_at_ms <= due_at_ms,
                        due_at_ms >= {judge}) AS on_time,
                    is_document = 0 OR (e_result_at_ms > 0 AND e_result_at_ms < {t}) AS result_ok,
                    received_channel = 'online' AND result_ok AS online_ok,
                    any_digitized = 1 AND result_ok AS digitized_ok,
                    feedback_at_ms > 0 AND feedback_at_ms < {t} AS complained,
                    dissatisfied_at_ms > 0 AND dissatisfied_at_ms < {t} AS unhappy
                FROM ({dossier_timeline_sql(database, prefilter)})
                WHERE received_at_ms >= {start} AND received_at_ms < {stop}
            )
            GROUP BY unit, procedure
            ORDER BY unit, procedure"""
    )
    out = []
    for row in rows:
        unit, procedure, *sums, online, with_fee, paid = row
        out.append(
            ProcedureRow(
                str(unit),
                str(procedure),
                tuple(int(v) for v in sums),
                bool(online),
                bool(with_fee),
                bool(paid),
            )
        )
    return out


def feedback_rows(
    store: Store,
    database: str,
    start_ms: int,
    end_ms: int,
    as_of_ms: int,
    judge_ms: int | None = None,
) -> list[FeedbackRow]:
    """Per leaf unit: complaints first received in [start_ms, min(end_ms, as_of_ms)), and how
    many were answered on time and satisfied (``FEEDBACK_KEYS`` order); ``judge_ms`` as for
    ``dossier_rows``."""
    t = int(as_of_ms)
    judge = t if judge_ms is None else int(judge_ms)
    stop = min(int(end_ms), t)
    start = int(start_ms)
    prefilter = (
        f"WHERE dossier_id IN (SELECT dossier_id FROM {database}.dossier_state "
        f"WHERE feedback_ms >= {start} AND feedback_ms < {stop})"
    )
    rows = store.query(
        f"""SELECT unit, count(), sum(on_time), sum(on_time AND NOT unhappy)
            FROM (
                SELECT unit,
                    if(feedback_resolved_at_ms > 0 AND feedback_resolved_at_ms < {t},
                       feedback_resolved_at_ms <= feedback_due_at_ms,
                       feedback_due_at_ms >= {judge}) AS on_time,
                    feedback_dissatisfied_at_ms > 0 AND feedback_dissatisfied_at_ms < {t}
                        AS unhappy
                FROM ({dossier_timeline_sql(database, prefilter)})
                WHERE feedback_at_ms >= {start} AND feedback_at_ms < {stop}
            )
            GROUP BY unit
            ORDER BY unit"""
    )
    return [(str(unit), tuple(int(v) for v in sums)) for unit, *sums in rows]


def has_clocks(store: Store, database: str) -> bool:
    """Whether the namespace's schema keeps the dossier clocks (migration 4)."""
    rows = store.query(
        f"SELECT count() FROM system.columns WHERE database = '{database}' "
        "AND table = 'dossier_state' AND name = 'due_ms'"
    )
    return bool(int(rows[0][0]))


def state_as_of(
    store: Store,
    database: str,
    start_ms: int,
    end_ms: int,
    as_of_ms: int,
    judge_ms: int | None = None,
) -> StateCounts | None:
    """The as-of counts of the dossiers received in [start_ms, end_ms), judged at ``as_of_ms``
    (``judge_ms``: see ``dossier_rows``); None when the store has no dossier clocks."""
    if not has_clocks(store, database):
        return None
    return state_counts(
        dossier_rows(store, database, start_ms, end_ms, as_of_ms, judge_ms),
        feedback_rows(store, database, start_ms, end_ms, as_of_ms, judge_ms),
    )
