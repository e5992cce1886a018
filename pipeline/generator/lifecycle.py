"""One dossier's life as contract-v1 events: reception to result, payments, ratings, feedback.

This is the generator's hot path, so it builds each JSON line with one f-string in the exact
byte layout msgspec uses for ``encode_event`` (``type`` first, then fields in contract order),
and formats times from lookup tables. Timing follows how a one-stop office works: reception in
office hours on working days, procedure-specific due dates in working days, a few supplements
and late completions, online payments at any hour and sometimes days later, e-results minutes
after completion and paper results up to two working days later.

Each event is ``(occurred_at in epoch seconds, line, dossier_id, type)``; event ids are the dossier id and
the event's position in the dossier's life (``.../3``), so they are unique and reproducible.
"""

from __future__ import annotations

import random

from pipeline.generator.calendar import (
    DAY_S,
    LOCAL_OFFSET_S,
    OFFICE,
    RECEPTION,
    TABLE_SIZE,
    WAKING,
    WorkingDays,
)
from pipeline.generator.incidents import IncidentBook
from pipeline.generator.province import (
    DATA_STORE,
    DIGITIZE_OFFLINE,
    DIGITIZE_ONLINE,
    ERESULT_OFFLINE,
    ERESULT_ONLINE,
    FEEDBACK_ON_TIME,
    LATE,
    PAY_OFFLINE,
    PAY_ONLINE,
    POPULATION,
    REUSE,
    SYNC,
)
from pipeline.generator.timestamps import Rfc3339
from pipeline.reference import Procedure

Event = tuple[int, str, str, str]
"""(occurred_at in epoch seconds, JSON line, dossier_id, event type)."""
Facts = tuple[str, int, int, int, bool]
"""What the hot path needs of a procedure: (code, online class 0/1/2, due working days,
fee in VND or 0, result is a document)."""

SUPPLEMENT_REASONS = (
    "Thiếu bản sao giấy chứng nhận quyền sử dụng đất",
    "Đơn đề nghị chưa đúng mẫu quy định",
    "Thiếu chữ ký của người đề nghị",
    "Cần bổ sung bản vẽ sơ đồ thửa đất",
    "Giấy tờ tùy thân đã hết hạn",
    "Thông tin trong tờ khai không khớp với Cơ sở dữ liệu quốc gia về dân cư",
    "Thiếu văn bản ủy quyền",
    "Bổ sung giấy tờ chứng minh nơi cư trú",
)
_CLASS = {"full": 0, "partial": 1, "none": 2}

# Shares that are not calibrated targets, only realistic texture.
POSTAL_SHARE = 0.05
ORGANIZATION_SHARE = 0.15
FEE_EXEMPT_SHARE = 0.05
LATE_ONLINE_PAYMENT_SHARE = 0.15
PAYMENT_FAILURE_SHARE = 0.03
OUTAGE_FALLBACK_TO_COUNTER = 0.7
UNPAID_SHARE = 0.02
EMPTY_DIGITIZATION_REPORT = 0.1
SUPPLEMENT_SHARE = 0.06
WITHDRAWN_SHARE, REJECTED_SHARE = 0.02, 0.03
RATED_SHARE = 0.25
FEEDBACK_SHARE = 0.006
FEEDBACK_DUE_WORKING_DAYS = 15


def _side(dossier_id: str, what: str, ts_s: int) -> random.Random:
    """Random numbers for an incident's detour, apart from the unit's stream.

    Payment, sync and e-result outages draw nothing from the unit-day stream beyond what the
    undisturbed path draws, so every other dossier keeps its bytes. Online-filing and
    digitisation outages change what the dossier itself does next, and with it the draws.
    """
    return random.Random(f"{dossier_id}:{what}:{ts_s}")


def facts_of(procedure: Procedure) -> Facts:
    return (
        procedure.code,
        _CLASS[procedure.online_level],
        procedure.due_days,
        procedure.fee_vnd if procedure.fee_bearing else 0,
        procedure.result_is_document,
    )


class Lifecycle:
    """Builds the events of one dossier; holds the tables that do not change between dossiers."""

    def __init__(self, calendar: WorkingDays, incidents: IncidentBook, clock: Rfc3339) -> None:
        self.calendar = calendar
        self.incidents = incidents
        self.dates = clock.dates
        self.times = clock.times

    def dossier(
        self,
        rng: random.Random,
        unit_code: str,
        dossier_id: str,
        facts: Facts,
        day: int,
        rates: tuple[float, ...],
        from_s: int = 0,
    ) -> list[Event]:
        """The events of a dossier received on working ``day`` at ``unit_code``.

        Events before ``from_s`` (epoch s) are left out without being formatted; they still use
        the same random numbers, so the events kept do not depend on ``from_s``.

        Times inside are epoch seconds; ``lt`` is the same instant shifted to local time, whose
        day and second index the two text tables (86,400 s a day, 25,200 s = +07:00).
        """
        rand = rng.random
        dates, times = self.dates, self.times
        wdays, windex, wbase = self.calendar.days, self.calendar.index, self.calendar.first_day
        reception, office = RECEPTION.table, OFFICE.table
        incidents = self.incidents
        watch = incidents.kinds
        code, klass, due_days, fee, is_document = facts
        events: list[Event] = []
        add = events.append
        day_s = day * 86_400 - 25_200
        head = '","schema":1,"occurred_at":"'
        common = (
            f'","unit_code":"{unit_code}","dossier_id":"{dossier_id}","procedure_code":"{code}"'
        )
        n = 0

        def emit(t: int, number: int, event_type: str, fields: str = "") -> None:
            """Add event ``number`` of this dossier at epoch second ``t``, unless before from_s."""
            if t >= from_s:
                lt = t + 25_200
                add(
                    (
                        t,
                        f'{{"type":"{event_type}","event_id":"{dossier_id}/{number}{head}'
                        f"{dates[lt // 86_400]}{times[lt % 86_400]}{common}{fields}}}",
                        dossier_id,
                        event_type,
                    )
                )

        def synced_at(t_after: int) -> int:
            t = t_after + 30 + int(rand() * 1200)
            return self._after_sync_outage(dossier_id, unit_code, t) if watch else t

        t_recv = day_s + reception[int(rand() * TABLE_SIZE)]
        online = klass < 2 and rand() < rates[klass]  # ONLINE_FULL = 0, ONLINE_PARTIAL = 1
        if online and watch and incidents.active_until("online-filing-outage", unit_code, t_recv):
            online = False
        channel = "online" if online else ("postal" if rand() < POSTAL_SHARE else "direct")
        due_lt = wdays[windex[day - wbase] + due_days] * 86_400 + 17 * 3600
        if fee and rand() < FEE_EXEMPT_SHARE:
            fee = 0
        applicant = "organization" if rand() < ORGANIZATION_SHARE else "citizen"
        emit(
            t_recv,
            0,
            "dossier.received",
            f',"channel":"{channel}","due_at":"{dates[due_lt // 86_400]}{times[due_lt % 86_400]}","fee_amount":{fee},"applicant_type":"{applicant}"',
        )

        # Digitisation at reception: papers scanned, components filled from data the state holds.
        p_digitize = rates[DIGITIZE_ONLINE if online else DIGITIZE_OFFLINE]
        if watch and incidents.active_until("digitization-outage", unit_code, t_recv):
            p_digitize = 0.0
        if rand() < p_digitize:
            components = 1 + int(rand() * rand() * 8)
            reused = 1 + int(rand() * components) if rand() < rates[REUSE] else 0
            store = "true" if reused and rand() < rates[DATA_STORE] else "false"
            # VNeID / population data: an optional field, written only when true (contract v1.1).
            population = ',"from_population_data":true' if rand() < rates[POPULATION] else ""
            n += 1
            t = t_recv + 60 + int(rand() * 1500)
            emit(
                t,
                n,
                "dossier.digitized",
                f',"components":{components},"reused_components":{reused},"from_data_store":{store}'
                + population,
            )
        elif rand() < EMPTY_DIGITIZATION_REPORT:
            n += 1
            t = t_recv + 60 + int(rand() * 1500)
            emit(
                t,
                n,
                "dossier.digitized",
                ',"components":0,"reused_components":0,"from_data_store":false',
            )

        synced = rand() < rates[SYNC]
        if synced:
            n += 1
            emit(synced_at(t_recv), n, "dossier.synced")

        if fee:
            n = self._payments(
                rng,
                events,
                n,
                dossier_id,
                common,
                unit_code,
                day,
                t_recv,
                online,
                channel,
                fee,
                rates,
                from_s,
            )

        pause_days = 0
        if rand() < SUPPLEMENT_SHARE:
            t = (
                wdays[windex[day - wbase] + 1 + int(rand() * 2)] * 86_400
                - 25_200
                + office[int(rand() * TABLE_SIZE)]
            )
            pause_days = 2 + int(rand() * 9)
            n += 1
            reason = SUPPLEMENT_REASONS[int(rand() * len(SUPPLEMENT_REASONS))]
            emit(t, n, "dossier.supplement_requested", f',"reason":"{reason}"')

        r = rand()
        if r < WITHDRAWN_SHARE:
            outcome = "withdrawn"
        elif r < WITHDRAWN_SHARE + REJECTED_SHARE:
            outcome = "rejected"
        else:
            outcome = "approved"
        late = outcome != "withdrawn" and rand() < rates[LATE]
        offset = due_days + 1 + int(rand() * 4) if late else int(rand() * (due_days + 1))
        t_done = (
            wdays[windex[day - wbase] + offset + pause_days] * 86_400
            - 25_200
            + office[int(rand() * TABLE_SIZE)]
        )
        if t_done <= t_recv + 600:
            t_done = t_recv + 600 + int(rand() * 3600)
        n += 1
        emit(t_done, n, "dossier.completed", f',"outcome":"{outcome}"')
        if synced:
            n += 1
            emit(synced_at(t_done), n, "dossier.synced")

        t_last = t_done
        if outcome != "withdrawn":
            p_electronic = (
                rates[ERESULT_ONLINE if online else ERESULT_OFFLINE] if is_document else 0.3
            )
            electronic = rand() < p_electronic
            if electronic:
                t = t_done + 60 + int(rand() * 3600)
                if watch and incidents.active_until("e-result-outage", unit_code, t):
                    electronic = False
            else:
                done_day = (t_done + 25_200) // 86_400
                t = (
                    wdays[windex[done_day - wbase] + int(rand() * 3)] * 86_400
                    - 25_200
                    + office[int(rand() * TABLE_SIZE)]
                )
                if t < t_done + 300:
                    t = t_done + 300 + int(rand() * 3600)
            digitized = "true" if rand() < 0.5 or electronic else "false"  # always one draw
            n += 1
            emit(
                t,
                n,
                "dossier.result_issued",
                f',"electronic":{"true" if electronic else "false"},"digitized":{digitized}',
            )
            t_last = t

        if rand() < RATED_SHARE:
            t = t_last + 600 + int(rand() * 3 * DAY_S)
            happy = rand() < (0.75 if late or outcome == "rejected" else 0.97)
            n += 1
            emit(t, n, "dossier.rated", f',"satisfied":{"true" if happy else "false"}')

        if rand() < FEEDBACK_SHARE:
            in_time = rates[FEEDBACK_ON_TIME] * (0.86 if late else 1.0)
            self._feedback(rng, events, n, dossier_id, common, t_recv, in_time, from_s)
        return events

    def _text(self, ts_s: int) -> str:
        lt = ts_s + LOCAL_OFFSET_S
        return self.dates[lt // DAY_S] + self.times[lt % DAY_S]

    def _office_time(self, rng: random.Random, day: int, after_working_days: int) -> int:
        """A moment in office hours ``after_working_days`` working days after ``day``."""
        working_day = self.calendar.add(day, after_working_days)
        return working_day * DAY_S - LOCAL_OFFSET_S + OFFICE.table[int(rng.random() * TABLE_SIZE)]

    def _after_sync_outage(self, dossier_id: str, unit_code: str, t: int) -> int:
        end = self.incidents.active_until("sync-outage", unit_code, t)
        if end is None:
            return t
        return end + 60 + int(_side(dossier_id, "sync", t).random() * 900)

    def _payments(
        self,
        rng: random.Random,
        events: list[Event],
        n: int,
        dossier_id: str,
        common: str,
        unit_code: str,
        day: int,
        t_recv: int,
        online: bool,
        channel: str,
        fee: int,
        rates: tuple[float, ...],
        from_s: int,
    ) -> int:
        rand = rng.random
        fmt = self._text

        def pay(t: int, kind: str, method: str) -> None:
            nonlocal n
            n += 1
            if t >= from_s:
                events.append(
                    (
                        t,
                        f'{{"type":"{kind}","event_id":"{dossier_id}/{n}","schema":1,"occurred_at":"{fmt(t)}'
                        f'{common},"amount":{fee},"method":"{method}"}}',
                        dossier_id,
                        kind,
                    )
                )

        if rand() < rates[PAY_ONLINE if online else PAY_OFFLINE]:
            method = "online_national" if rand() < 0.55 else "online_provincial"
            if rand() < LATE_ONLINE_PAYMENT_SHARE:  # paid days later, at home
                t = (
                    ((t_recv + LOCAL_OFFSET_S) // DAY_S + 1 + int(rand() * 5)) * DAY_S
                    - LOCAL_OFFSET_S
                    + WAKING.table[int(rand() * TABLE_SIZE)]
                )
            else:
                t = t_recv + 120 + int(rand() * 14_000)
            u_failure, u_retry = rand(), rand()  # drawn whatever happens next
            outage_end = None
            if "payment-outage" in self.incidents.kinds:
                outage_end = self.incidents.active_until("payment-outage", unit_code, t)
            if outage_end is not None:
                side = _side(dossier_id, "payment", t)
                pay(t, "payment.failed", method)
                if side.random() < OUTAGE_FALLBACK_TO_COUNTER:
                    pay(
                        self._office_time(side, (t + LOCAL_OFFSET_S) // DAY_S + 1, 0),
                        "payment.succeeded",
                        "cash" if side.random() < 0.75 else "bank_counter",
                    )
                else:
                    pay(outage_end + 600 + int(side.random() * 7200), "payment.succeeded", method)
            elif u_failure < PAYMENT_FAILURE_SHARE:
                pay(t, "payment.failed", method)
                pay(t + 60 + int(u_retry * 900), "payment.succeeded", method)
            else:
                pay(t, "payment.succeeded", method)
        elif rand() >= UNPAID_SHARE:
            method = "cash" if rand() < 0.75 else "bank_counter"
            if channel == "direct":
                t = t_recv + 60 + int(rand() * 900)
            else:
                t = self._office_time(rng, day, 1 + int(rand() * 3))
            pay(t, "payment.succeeded", method)
        return n

    def _feedback(
        self,
        rng: random.Random,
        events: list[Event],
        n: int,
        dossier_id: str,
        common: str,
        t_recv: int,
        p_in_time: float,
        from_s: int,
    ) -> int:
        """A complaint about the dossier, answered in time with probability ``p_in_time``."""
        rand = rng.random
        fmt = self._text
        feedback_id = f"{dossier_id}/pakn"
        t = (
            ((t_recv + LOCAL_OFFSET_S) // DAY_S + 1 + int(rand() * 20)) * DAY_S
            - LOCAL_OFFSET_S
            + WAKING.table[int(rand() * TABLE_SIZE)]
        )
        received_day = (t + LOCAL_OFFSET_S) // DAY_S
        due_s = (
            self.calendar.add(received_day + 1, FEEDBACK_DUE_WORKING_DAYS - 1) * DAY_S
            - LOCAL_OFFSET_S
            + 17 * 3600
        )
        n += 1
        if t >= from_s:
            events.append(
                (
                    t,
                    f'{{"type":"feedback.received","event_id":"{dossier_id}/{n}","schema":1,"occurred_at":"{fmt(t)}'
                    f'{common},"feedback_id":"{feedback_id}","due_at":"{fmt(due_s)}"}}',
                    dossier_id,
                    "feedback.received",
                )
            )
        if rand() < 0.95:
            in_time = rand() < p_in_time
            days = (
                1 + int(rand() * (FEEDBACK_DUE_WORKING_DAYS - 1))
                if in_time
                else FEEDBACK_DUE_WORKING_DAYS + 1 + int(rand() * 6)
            )
            t_resolved = max(t + 600, self._office_time(rng, received_day, days))
            n += 1
            if t_resolved >= from_s:
                events.append(
                    (
                        t_resolved,
                        f'{{"type":"feedback.resolved","event_id":"{dossier_id}/{n}","schema":1,"occurred_at":"{fmt(t_resolved)}'
                        f'{common},"feedback_id":"{feedback_id}"}}',
                        dossier_id,
                        "feedback.resolved",
                    )
                )
            if rand() < 0.5:
                t_rated = t_resolved + 600 + int(rand() * 2 * DAY_S)
                happy = "true" if rand() < (0.85 if in_time else 0.5) else "false"
                n += 1
                if t_rated >= from_s:
                    events.append(
                        (
                            t_rated,
                            f'{{"type":"feedback.rated","event_id":"{dossier_id}/{n}","schema":1,"occurred_at":"{fmt(t_rated)}'
                            f'{common},"feedback_id":"{feedback_id}","satisfied":{happy}}}',
                            dossier_id,
                            "feedback.rated",
                        )
                    )
        return n
