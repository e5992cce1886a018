"""The six score groups of the portal's 766 index: their indicators, weights, rules and sources.

Indicator ids are the decision's own ``group.item`` numbers (``"1.4"``, ``"3.3"``...; see
docs/architecture.md). ``portal_code`` is the metric code the portal uses in its
overview/evaluation responses (``None`` for groups the portal publishes as parent/children
counts). An indicator whose ``rule`` is ``None`` is published for monitoring only and carries
no points.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.scoring.rules import EmptyDenominator, PointRule

FULL = EmptyDenominator.FULL


@dataclass(frozen=True)
class Indicator:
    id: str
    name_vi: str
    rule: PointRule | None
    portal_code: str | None = None

    @property
    def is_scored(self) -> bool:
        return self.rule is not None

    @property
    def max_points(self) -> float:
        return self.rule.max_points if self.rule is not None else 0.0


@dataclass(frozen=True)
class Group:
    """One portal score group. ``id`` is the portal API's group name, ``code`` its key under
    ``groupScores``; ``max_points`` the group's weight in the total of 100."""

    id: str
    code: str
    name_vi: str
    indicators: tuple[Indicator, ...]

    @property
    def max_points(self) -> float:
        return sum(i.max_points for i in self.indicators)

    @property
    def scored_indicators(self) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.is_scored)

    def indicator(self, indicator_id: str) -> Indicator:
        for candidate in self.indicators:
            if candidate.id == indicator_id:
                return candidate
        raise KeyError(f"group {self.id} has no indicator {indicator_id!r}")


_PROPORTIONAL_FIT = "proportional; fitted to portal data ({file}, {n} units within rounding)"

TRANSPARENCY = Group(
    id="transparency",
    code="CKMB",
    name_vi="Công khai, minh bạch",
    indicators=(
        Indicator(
            "1.1",
            "Tỷ lệ TTHC công bố đúng hạn",
            PointRule(
                6,
                source="portal formula document (6 points); proportional [R], "
                "only 0/0 seen in transparency/*.json, which scores 0",
            ),
            "PUBLISH_ON_TIME",
        ),
        Indicator(
            "1.2",
            "Tỷ lệ TTHC cập nhật, công khai đúng hạn",
            PointRule(
                4,
                source="Decision 766 (4 points); proportional [R], only 0/0 seen "
                "in transparency/*.json, which scores 0",
            ),
            "PUBLIC_UPDATE_ON_TIME",
        ),
        Indicator(
            "1.3",
            "Tỷ lệ TTHC công khai đầy đủ nội dung",
            PointRule(
                2, source=_PROPORTIONAL_FIT.format(file="transparency/month-all.json", n=164)
            ),
            "PUBLIC_CONTENT_FULL",
        ),
        Indicator(
            "1.4",
            "Tỷ lệ hồ sơ đồng bộ lên Cổng DVCQG",
            PointRule(
                6,
                source=_PROPORTIONAL_FIT.format(file="transparency/*.json", n=324)
                + "; 0/0 scores 0 (2 units per file)",
            ),
            "DOSSIER_SYNC",
        ),
    ),
)

PROGRESS = Group(
    id="dvc-progress-tree",
    code="TDGQ",
    name_vi="Tiến độ giải quyết",
    indicators=(
        Indicator(
            "2.1",
            "Tỷ lệ hồ sơ xử lý trước hạn, đúng hạn",
            PointRule(
                20,
                source="Decision 766 (20 points); totalOnTime/totalReceived "
                "proportional, fitted to portal data (dvc-progress-tree/*.json, 311 "
                "units exact); totalReceived 0 scores 0 (17 units)",
            ),
        ),
    ),
)

DIGITIZATION = Group(
    id="dossier-digitized",
    code="MDSH",
    name_vi="Số hóa hồ sơ",
    indicators=(
        Indicator(
            "3.1",
            "Tỷ lệ hồ sơ TTHC có cấp kết quả giải quyết TTHC điện tử",
            PointRule(
                6,
                source="portal formula document (6 points); proportional capped, "
                "fitted to portal data (dossier-digitized/*.json, 312 units exact)",
            ),
            "ORIGINAL_RESULT_AVAILABLE",
        ),
        Indicator(
            "3.2",
            "Tỷ lệ hồ sơ TTHC thực hiện số hóa hồ sơ",
            PointRule(
                4,
                source="proportional to 100%, fitted to portal data "
                "(dossier-digitized/month-all.json: full-at-80% misses by up to 0.79 "
                "points); the formula document's 80% is not what the portal does",
            ),
            "SO_HOA_GIAY_TO_GIAI_QUYET",
        ),
        Indicator(
            "3.3",
            "Tỷ lệ hồ sơ khai thác, sử dụng lại thông tin, dữ liệu số hóa",
            PointRule(
                2,
                full_at_pct=80,
                source="portal formula document (full at 80%), "
                "confirmed by portal data (dossier-digitized/*.json, 312 units exact)",
            ),
            "REUSED_DIGITIZED_DATA",
        ),
        Indicator(
            "3.4",
            "Tỷ lệ hồ sơ TTHC được số hóa có kết nối, chia sẻ dữ liệu phục vụ tái sử dụng",
            PointRule(
                4,
                source="portal formula document (4 points); proportional assumed: "
                "every unit in dossier-digitized/*.json has rate 0, so the slope is "
                "not confirmed",
            ),
            "SYNCED_WITH_DVCQG_PERSONAL_STORAGE",
        ),
        Indicator(
            "3.5",
            "Tỷ lệ hồ sơ TTHC có sử dụng thông tin, dữ liệu dân cư",
            PointRule(2, source=_PROPORTIONAL_FIT.format(file="dossier-digitized/*.json", n=312)),
            "CITIZEN_DATA_CONNECTED_DOSSIER",
        ),
        Indicator(
            "3.6",
            "Tỷ lệ TTHC triển khai kết nối, chia sẻ dữ liệu dân cư phục vụ GQ TTHC",
            PointRule(
                2,
                source=_PROPORTIONAL_FIT.format(file="dossier-digitized/month-all.json", n=164)
                + "; absent from single-procedure responses (group max 20)",
            ),
            "CITIZEN_DATA_CONNECTED_FORMALITY",
        ),
        Indicator(
            "3.7",
            "Tỷ lệ cung cấp dịch vụ chứng thực bản sao điện tử từ bản chính",
            PointRule(
                2,
                source="portal formula document (2 points); proportional [R]; the "
                "portal publishes only the rate (100 -> 2 points in every unit of "
                "dossier-digitized/*.json)",
            ),
            "ELECTRONIC_CERTIFIED_COPY",
        ),
    ),
)

ONLINE_SERVICE = Group(
    id="provide-online-tree",
    code="CLGQ",
    name_vi="Dịch vụ công trực tuyến",
    indicators=(
        Indicator(
            "4.1",
            "Tỷ lệ TTHC cung cấp dịch vụ công trực tuyến",
            PointRule(
                2,
                full_at_pct=80,
                source="(partialCount+fullCount)/authorityCount, "
                "full at 80% (portal formula document); 2 points fitted to portal data "
                "(provide-online-tree/*.json parent, the only unit with counts)",
            ),
        ),
        Indicator(
            "4.2",
            "Tỷ lệ dịch vụ công trực tuyến có phát sinh hồ sơ",
            PointRule(
                4,
                source="onlineDossierCount/onlineServiceTotal, 4 points "
                "proportional, fitted to portal data (provide-online-tree/"
                "month-all.json parent: 406/1968 -> 0.83 of 8.83)",
            ),
        ),
        Indicator(
            "4.3",
            "Tỷ lệ hồ sơ TTHC nộp trực tuyến",
            PointRule(
                6,
                full_at_pct=50,
                source="channelOnlineSum/channelTotalSum, full at "
                "50% (portal formula document); 6 points fitted to portal data "
                "(provide-online-tree/*.json parent)",
            ),
        ),
    ),
)

PAYMENT = Group(
    id="formality-online-payment-tree",
    code="TTTT",
    name_vi="Thanh toán trực tuyến",
    indicators=(
        Indicator(
            "4.4",
            "Tỷ lệ TTHC có nghĩa vụ tài chính được tích hợp thanh toán trực tuyến",
            PointRule(
                2,
                full_at_pct=80,
                rate_decimals=2,
                source="totalFeeDossierFormality/"
                "totalFeeFormality, full at 80% (portal formula document); the cap is "
                "never reached in the data; rate rounded to 0.01% first, fitted to "
                "portal data (formality-online-payment-tree/*.json, 328 units exact)",
            ),
        ),
        Indicator(
            "4.5",
            "Tỷ lệ TTHC có giao dịch thanh toán trực tuyến",
            PointRule(
                2,
                full_at_pct=80,
                rate_decimals=2,
                source="totalDossierOnlineFormality"
                "PaymentSuccess/totalFeeFormality, full at 80% (portal formula "
                "document), cap reached once in formality-online-payment-tree/"
                "month-formality.json; rate rounded to 0.01% first (fitted)",
            ),
        ),
        Indicator(
            "4.6",
            "Tỷ lệ hồ sơ thanh toán trực tuyến",
            PointRule(
                6,
                rate_decimals=2,
                source="totalDossierOnlinePaymentSuccess/"
                "totalDossierFinancialObligation, 6 points proportional, rate rounded "
                "to 0.01% first; fitted to portal data (formality-online-payment-tree/"
                "month-all.json H44.144: 78.25% -> 4.70); 0/0 scores 0 (H44.19)",
            ),
        ),
    ),
)

SATISFACTION = Group(
    id="handling-satisfaction",
    code="MDHL",
    name_vi="Mức độ hài lòng",
    indicators=(
        Indicator(
            "5.1",
            "Tỷ lệ PAKN xử lý đúng hạn",
            PointRule(
                6,
                if_empty=FULL,
                source="Decision 766 (6 points); proportional; no "
                "complaints -> 6, fitted to portal data (handling-satisfaction/"
                "month-all.json, 145 units)",
            ),
            "PETITION_PROCESSING_ON_TIME",
        ),
        Indicator(
            "5.2",
            "Tỷ lệ hài lòng trong xử lý PAKN",
            PointRule(
                6,
                if_empty=FULL,
                source="Decision 766 (6 points); proportional; no "
                "complaints -> 6 (not split onto 5.1/5.3 as the metrics sheet says), "
                "fitted to portal data (handling-satisfaction/month-all.json)",
            ),
            "PETITION_HANDLING_SATISFACTION",
        ),
        Indicator(
            "5.3",
            "Tỷ lệ hài lòng trong tiếp nhận, giải quyết TTHC",
            PointRule(
                6,
                full_at_pct=90,
                source="Decision 766 (6 points); full at 90% "
                "(portal formula document), confirmed by portal data "
                "(handling-satisfaction/month-all.json, 162 units exact); 0/0 scores 0",
            ),
            "DOSSIER_RECEIVING_SATISFACTION",
        ),
        Indicator(
            "5.x.1",
            "Tỷ lệ PAKN về quy định, thủ tục hành chính",
            None,
            "PETITION_CLASSIFICATION_TTHC",
        ),
        Indicator(
            "5.x.2",
            "Tỷ lệ PAKN về hành vi cán bộ, công chức, viên chức",
            None,
            "PETITION_CLASSIFICATION_STAFF",
        ),
    ),
)

GROUPS: tuple[Group, ...] = (
    TRANSPARENCY,
    PROGRESS,
    DIGITIZATION,
    ONLINE_SERVICE,
    PAYMENT,
    SATISFACTION,
)
"""In the portal's display order; their maxima (18, 20, 22, 12, 10, 18) total 100."""

TOTAL_MAX_POINTS = 100.0


def group_by_id(group_id: str) -> Group:
    """The group with this portal API name; ``KeyError`` naming the known ones otherwise."""
    for group in GROUPS:
        if group.id == group_id:
            return group
    known = ", ".join(g.id for g in GROUPS)
    raise KeyError(f"unknown score group {group_id!r} (known: {known})")


def indicator_by_id(indicator_id: str) -> Indicator:
    """The indicator with this spec id (``"3.3"``); ``KeyError`` otherwise."""
    for group in GROUPS:
        for indicator in group.indicators:
            if indicator.id == indicator_id:
                return indicator
    raise KeyError(f"unknown indicator id {indicator_id!r}")


def indicator_by_portal_code(code: str) -> tuple[Group, Indicator] | None:
    """The group and indicator the portal's metric ``code`` belongs to, or ``None``."""
    for group in GROUPS:
        for indicator in group.indicators:
            if indicator.portal_code == code:
                return group, indicator
    return None
