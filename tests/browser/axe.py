"""axe-core in the page (bundled by axe-playwright-python: no npm): serious and critical
violations only, each with the rule, what it means and where."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

BLOCKING = ("serious", "critical")
_axe = Axe()


def serious_violations(page: Any) -> list[str]:
    """One line per serious or critical violation on the page as it is now."""
    results = _axe.run(page)
    lines = []
    for violation in results.response["violations"]:
        if violation.get("impact") not in BLOCKING:
            continue
        where = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        lines.append(f"{violation['impact']} {violation['id']}: {violation['help']} at {where}")
    return lines
