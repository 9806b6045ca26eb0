"""A network's participation as CSV or XLSX: per-session totals and per-organisation counts
(for a CRM import), and personal rows for its coordinators."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from dialogs.i18n import Translator
from domain.networks import Network
from domain.participation import NetworkFigures, Participation

Table = tuple[str, list[str], list[list[object]]]


def tables(
    network: Network,
    figures: NetworkFigures,
    rows: Sequence[Participation],
    personal: bool,
    tr: Translator,
) -> list[Table]:
    """The file's tables, headed in ``tr``'s language (the route picks the link's, else the network's)."""
    zone = ZoneInfo(network.timezone)
    yes, no = tr._("yes"), tr._("no")

    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    sessions: list[list[object]] = [
        [s.session_id, local(s.starts_at), yes if s.held else no, s.participants, s.new, s.returning]
        for s in figures.sessions
    ]
    organisations: dict[str, int] = {}
    for session in figures.sessions:
        for organisation, count in session.by_organisation.items():
            organisations[organisation] = organisations.get(organisation, 0) + count
    result: list[Table] = [
        (
            tr._("sessions"),
            [
                tr._("session"),
                tr._("starts"),
                tr._("held"),
                tr._("participants"),
                tr._("new"),
                tr._("returning"),
            ],
            sessions,
        ),
        (
            tr._("organisations"),
            [tr._("organisation"), tr._("participations")],
            [[org, count] for org, count in sorted(organisations.items(), key=lambda kv: -kv[1])],
        ),
    ]
    if personal:
        in_period = {s.session_id for s in figures.sessions}
        people = [
            [p.session_id, p.name, p.organisation or "", local(p.first_seen), local(p.last_seen), p.minutes]
            for p in sorted(rows, key=lambda r: (r.session_id, r.name))
            if p.session_id in in_period
        ]
        result.append(
            (
                tr._("participants"),
                [
                    tr._("session"),
                    tr._("name"),
                    tr._("organisation"),
                    tr._("first seen"),
                    tr._("last seen"),
                    tr._("minutes"),
                ],
                people,
            )
        )
    return result


def to_csv(data: list[Table]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for index, (name, header, rows) in enumerate(data):
        if index:
            writer.writerow([])
        writer.writerow([f"# {name}"])
        writer.writerow(header)
        writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")  # the BOM makes Excel read it as UTF-8


def to_xlsx(data: list[Table]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, header, rows in data:
        sheet = book.create_sheet(name)
        sheet.append(header)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
