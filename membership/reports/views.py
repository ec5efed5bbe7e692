"""Staff reports: the dashboard, supporters, sources, at risk, cohorts, the newsletter's
figures and CSV exports.

Views parse the query string, call one report function and render it. Who sees what
follows the account's role (``membership.staff.models.Role``): every role sees the pages
of figures (the at-risk report as counts); care and admins also find a supporter by exact
email and open them, one at a time, within ``STAFF_SUPPORTER_LIMIT``; admins also list
supporters and export. Finding and opening a supporter, lists and exports are written to
the audit log (by supporter id, never by email).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import partial

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from werkzeug.wrappers import Response as BaseResponse
from wtforms.validators import ValidationError

from membership import money
from membership.config import current_settings
from membership.extensions import limiter
from membership.newsletter.figures import newsletter_figures
from membership.reports import charts, export
from membership.reports.at_risk import at_risk_counts, at_risk_report
from membership.reports.cohorts import RETENTION_MONTHS, cohorts_report
from membership.reports.dashboard import FREQUENCIES, dashboard
from membership.reports.periods import InvalidPeriod, Period, parse_period
from membership.reports.search import SearchTooShort
from membership.reports.sources import DIMENSION_TITLES, sources_report
from membership.reports.supporters import (
    InvalidLookup,
    SupporterNotFound,
    SupporterPage,
    find_supporter_id,
    supporter_detail,
    supporters_page,
)
from membership.staff import audit
from membership.staff.access import admin_required, care_required, staff_required
from membership.staff.audit import record_audit_now
from membership.web.digits import whole_number

blueprint = Blueprint("reports", __name__, url_prefix="/staff")

MAX_PAGE = 10_000
MAX_ID = 2**31 - 1  # the largest supporters.id either database can hold
NEWSLETTER_CHART_MONTHS = 24  # as the dashboard's charts


def _period() -> Period:
    try:
        return parse_period(request.args.get("from"), request.args.get("to"))
    except InvalidPeriod as exc:
        abort(400, str(exc))


@blueprint.get("/")
@staff_required
def dashboard_page() -> str:
    """The dashboard for a period (this month by default) against the one before it."""
    figures = dashboard(_period())
    revenue_charts = {
        currency: charts.stacked_bars(
            [bar.month for bar in bars],
            {f: [bar.net_by_frequency[f] for bar in bars] for f in FREQUENCIES},
            title=f"Net revenue by month and frequency, {currency}",
            format_value=partial(money.format_money, currency=currency),
        )
        for currency, bars in figures.revenue_chart.items()
    }
    active_chart = charts.line(
        [month for month, _ in figures.active_chart],
        [count for _, count in figures.active_chart],
        title="Active recurring supporters at the end of each month",
    )
    return render_template(
        "reports/dashboard.html",
        dashboard=figures,
        frequencies=FREQUENCIES,
        revenue_charts=revenue_charts,
        active_chart=active_chart,
    )


def _supporter_limit() -> str:
    return current_settings().staff_supporter_limit


def _staff_key() -> str:
    return f"staff:{current_user.id}"


# Finding and opening supporters, counted together per staff account: care opens one
# supporter at a time, and cannot walk through everyone by id or by a list of emails.
supporter_lookups = limiter.shared_limit(
    _supporter_limit, scope="staff_supporter_lookups", key_func=_staff_key
)


@blueprint.get("/supporters")
@care_required
def supporters_list() -> str | tuple[str, int]:
    """Care: the form that finds one supporter by exact email. Admins: also every
    supporter, newest first, searchable by part of an email or name (audited: which page,
    and whether it was a search, never what was searched for)."""
    if not current_user.is_admin:
        return render_template("reports/supporters.html", result=None)
    page = request.args.get("page", "1")
    number = whole_number(page)
    if number is None or not 1 <= number <= MAX_PAGE:
        abort(400, f"page must be a whole number from 1 to {MAX_PAGE}")
    query = request.args.get("q", "")
    try:
        result = supporters_page(query, number)
    except SearchTooShort as exc:
        empty = SupporterPage(query.strip(), number, [], has_next=False)
        return render_template("reports/supporters.html", result=empty, error=str(exc)), 400
    page_html = render_template("reports/supporters.html", result=result)
    # After rendering: the commit expires the rows the template reads.
    record_audit_now(
        audit.LIST_SUPPORTERS, target=f"page {page}", detail="search" if query else None
    )
    return page_html


@blueprint.post("/supporters/find")
@care_required
@supporter_lookups
def find_supporter() -> BaseResponse | tuple[str, int]:
    """The supporter whose email is exactly the one given (a form post: the email stays
    out of addresses, logs and history), opened at once; audited, found or not."""
    try:
        supporter_id = find_supporter_id(request.form.get("email", ""))
    except InvalidLookup as exc:
        return render_template("reports/supporters.html", result=None, error=str(exc)), 400
    record_audit_now(
        audit.FIND_SUPPORTER,
        target=str(supporter_id) if supporter_id is not None else None,
        detail="found" if supporter_id is not None else "not_found",
    )
    if supporter_id is None:
        error = "No supporter has exactly that email."
        return render_template("reports/supporters.html", result=None, error=error), 404
    return redirect(url_for("reports.supporter_page", supporter_id=supporter_id), 303)


@blueprint.get(f"/supporters/<int(max={MAX_ID}):supporter_id>")  # larger: 404, not an overflow
@care_required
@supporter_lookups
def supporter_page(supporter_id: int) -> str:
    """One supporter's payments, recurring support, reminders and sources (audited)."""
    try:
        detail = supporter_detail(supporter_id)
    except SupporterNotFound:
        abort(404)
    page_html = render_template("reports/supporter.html", detail=detail)
    # After rendering: the commit expires the rows the template reads (a supporter with
    # hundreds of payments would be read again one payment at a time).
    record_audit_now(audit.VIEW_SUPPORTER, target=str(supporter_id))
    return page_html


@blueprint.get("/reports/sources")
@staff_required
def sources_page() -> str:
    return render_template(
        "reports/sources.html", report=sources_report(_period()), titles=DIMENSION_TITLES
    )


@blueprint.get("/reports/at-risk")
@staff_required
def at_risk_page() -> str:
    """Past-due supporters and recent failures: counts for a viewer; for care, each row
    with the supporter's id to open; for admins, with their email (audited)."""
    if not current_user.sees_supporters:
        return render_template("reports/at_risk.html", report=at_risk_counts())
    page_html = render_template("reports/at_risk.html", report=at_risk_report())
    record_audit_now(audit.VIEW_AT_RISK)
    return page_html


@blueprint.get("/reports/cohorts")
@staff_required
def cohorts_page() -> str:
    return render_template(
        "reports/cohorts.html", cohorts=cohorts_report(), retention_months=RETENTION_MONTHS
    )


@blueprint.get("/reports/newsletter")
@staff_required
def newsletter_page() -> str:
    """The newsletter in figures: counts only, which name no one, so every role sees them."""
    numbers = newsletter_figures()
    shown = numbers.months[-NEWSLETTER_CHART_MONTHS:]
    chart = charts.line(
        [m.month for m in shown],
        [m.subscribers for m in shown],
        title="Newsletter subscribers at the end of each month",
    )
    return render_template("reports/newsletter.html", figures=numbers, chart=chart)


def _from_our_own_page() -> None:
    """A download must start from the dashboard. A hostile page can send a signed-in
    admin's browser to an export URL (SameSite=Lax lets top-level GETs carry the cookie),
    but cannot know the session's CSRF token, which the dashboard's export links carry."""
    try:
        validate_csrf(request.args.get("csrf_token", ""))
    except ValidationError:
        abort(400, "Start the download from the Exports section of the dashboard.")


def _day(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return export.parse_day(value)
    except export.InvalidDayRange as exc:
        abort(400, str(exc))


@blueprint.get("/exports/payments.csv")
@admin_required
def export_payments() -> Response:
    """The payments CSV of ``flask export payments``, streamed row by row (audited)."""
    _from_our_own_page()
    since, until = _day("since"), _day("until")
    try:
        lines = export.payment_rows(since, until)
    except export.InvalidDayRange as exc:
        abort(400, str(exc))
    record_audit_now(audit.EXPORT_PAYMENTS, target=export.period_label(since, until))
    return _csv(lines, "payments.csv")


@blueprint.get("/exports/supporters.csv")
@admin_required
def export_supporters() -> Response:
    """The supporters CSV of ``flask export supporters``, streamed row by row (audited)."""
    _from_our_own_page()
    record_audit_now(audit.EXPORT_SUPPORTERS)
    return _csv(export.supporter_rows(), "supporters.csv")


def _csv(lines: Iterator[str], filename: str) -> Response:
    return Response(
        stream_with_context(export.in_chunks(lines)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
