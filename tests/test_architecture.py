"""The layer rules of app/, checked by parsing every module with `ast` (nothing is imported).

The rules are data, at the top: a new exception is a visible diff of this file.

- Plumbing imports no feature, no read side and no edge.
- Tables (`app.models`, one module per table) import only plumbing and other tables.
- A feature imports plumbing, tables, its own modules, and ANOTHER feature only as that feature's service module,
  imported as a module (`from app.ledger import service as ledger`); never the read side or an edge. Features
  reach each other without cycles.
- The read side (metrics, scorecard) imports plumbing, tables and itself; it calls a feature only through the
  (service module, name) pairs of READ_SIDE_ALLOWLIST.
- Edges may import anything; nothing but an edge imports an edge.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

# --- The rules, as data ----------------------------------------------------------------------------------------

PLUMBING = {
    "app",
    "app.auth",
    "app.batch",
    "app.config",
    "app.csv",
    "app.db",
    "app.errors",
    "app.formulas",  # neutral: every formula of SPEC, for the read side and for features that show one
    "app.limits",
    "app.logs",
    "app.money",
    "app.pagination",
    "app.records",
    "app.risk",  # neutral: SPEC §5's at-risk rule, in the forms its readers need
    "app.routes",
    "app.schemas",
    "app.types",
}
TABLE_PACKAGES = {"app.models"}
FEATURES = {
    "audit",
    "costs",
    "customers",
    "experiments",
    "health",
    "interventions",
    "keys",
    "ledger",
    "renewals",
    "usage",
    "webhooks",
    "jobs",
}
READ_SIDE = {"metrics", "scorecard"}
EDGES = {
    "app.cli",
    "app.dashboard",
    "app.demo",
    "app.docs",
    "app.importer",
    "app.main",
    "app.migrate",
    "app.ops",
    "app.worker",
}

# The read side calls a feature only for a concept that feature owns, through exactly these names.
READ_SIDE_ALLOWLIST = {
    # ARR on a date is the ledger's (one definition): health and staffing count paying customers with it.
    ("app.ledger.service", "arr_as_of"),
    # The same sum as an aggregate: balances_cte reads each customer's changes once for opening ARR and movements.
    ("app.ledger.service", "arr_before"),
    # Impact attribution, intervention cost and the intervention view are the interventions feature's.
    # roi_figures: what the view shows of each (outcome, impact, cost) by the view's rules, without the view.
    ("app.interventions.service", "roi_figures"),
    ("app.interventions.service", "InterventionFigures"),  # the type roi_figures returns (a row annotation)
    # The period's interventions as plain rows (what roi_figures and the health lift read), with the group's value.
    ("app.interventions.service", "started_between"),
    # Health lift: each intervention's point-in-time health change against same-band peers.
    ("app.interventions.service", "health_deltas"),
    # Incremental ROI (SPEC §9): the impacts of a set of interventions (naive and against controls), a row's
    # totals and interval over them, and the defaults and method text the metric's meta repeats.
    ("app.interventions.service", "impacts"),
    ("app.interventions.service", "Incremental"),
    ("app.interventions.service", "row_figures"),
    ("app.interventions.service", "BOOTSTRAP"),
    # Closing a month and setting targets are audited writes (SPEC §11): the audit log records them.
    ("app.audit.service", "ActorDep"),
    ("app.audit.service", "record"),
    # Closing a month is a webhook event (SPEC §11): written to the outbox in the close's transaction.
    ("app.webhooks.service", "emit"),
    ("app.webhooks.service", "Emitted"),
    # Revenue at risk applies the fitted churn model, which the health feature fits and stores.
    ("app.health.service", "latest_churn_fit"),
}

# Exceptions that are not the tables move: each names the import and why it stays.
EXCEPTIONS = {
    # The request dependency checks API keys: plumbing every router uses, built on the keys feature's service.
    ("app.auth", "app.keys.service"),
}


# --- The checker -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One imported module (and, for `from m import name`, the name when it is not itself a module)."""

    source: str
    target: str
    name: str | None
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (APP.parent / relative).with_suffix(".py").exists() or (APP.parent / relative / "__init__.py").exists()


def imports_of(source: str, tree: ast.AST, *, is_package: bool = False) -> list[Import]:
    """Every app.* import of a module; `from pkg import mod` is the module `pkg.mod`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(source, a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == "app"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = source if is_package else source.rsplit(".", 1)[0]
                package = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{package}.{base}" if base else package
            if base.split(".")[0] != "app":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append(
                    Import(source, full, None, node.lineno)
                    if is_module(full)
                    else Import(source, base, alias.name, node.lineno)
                )
    return found


def layer(module: str) -> str:
    """plumbing, table, feature:<name>, read:<name>, edge, or unknown."""
    parts = module.split(".")
    if module in PLUMBING:
        return "plumbing"
    if any(module == t or module.startswith(t + ".") for t in TABLE_PACKAGES):
        return "table"
    if any(module == edge or module.startswith(edge + ".") for edge in EDGES):
        return "edge"
    if len(parts) >= 2 and parts[1] in FEATURES:
        return f"feature:{parts[1]}"
    if len(parts) >= 2 and parts[1] in READ_SIDE:
        return f"read:{parts[1]}"
    return "unknown"


def service_module(target: str) -> bool:
    parts = target.split(".")
    return len(parts) == 3 and parts[1] in FEATURES and parts[2] == "service"


def violation(imp: Import) -> str | None:
    """Why this import breaks a rule, or None: the first rule that decides, in order."""
    if (imp.source, imp.target) in EXCEPTIONS:
        return None
    src, dst = layer(imp.source), layer(imp.target)
    if "unknown" in (src, dst):
        return f"{imp.source if src == 'unknown' else imp.target} has no layer in tests/test_architecture.py"
    as_service = service_module(imp.target) and imp.name is None  # the read side's names: READ_SIDE_ALLOWLIST
    rules: list[tuple[bool, str | None]] = [
        (src == "edge" or dst in ("plumbing", "table"), None),
        (dst == "edge", "only an edge imports an edge"),
        (src in ("plumbing", "table"), f"{src} imports no feature and no read side"),
        (dst == src, None),
        (src.startswith("feature:") and dst.startswith("read:"), "a feature never imports the read side"),
        (src.startswith("read:") and dst.startswith("read:"), None),
        (as_service, None),
        (src.startswith("feature:"), "another feature only through its service module, imported as a module"),
    ]
    return next((why for holds, why in rules if holds), "the read side reaches a feature only through its service")


def service_uses(source: str, tree: ast.AST, imports: list[Import]) -> set[tuple[str, str, int]]:
    """(service module, attribute, line) for every use of an imported feature service module."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if service_module(full):
                    aliases[alias.asname or alias.name] = full
    uses = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            uses.add((aliases[node.value.id], node.attr, node.lineno))
    return uses


def check(source: str, text: str, *, is_package: bool = False) -> list[str]:
    """Every rule this module's source breaks, as readable lines."""
    tree = ast.parse(text)
    imports = imports_of(source, tree, is_package=is_package)
    problems = [
        f"{source}:{i.line} imports {i.target}{'.' + i.name if i.name else ''}: {why}"
        for i in imports
        if (why := violation(i))
    ]
    if layer(source).startswith("read:"):
        for module, attr, line in sorted(service_uses(source, tree, imports)):
            if (module, attr) not in READ_SIDE_ALLOWLIST:
                problems.append(f"{source}:{line} uses {module}.{attr}: not in READ_SIDE_ALLOWLIST")
    return problems


def app_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(APP.rglob("*.py"))}


def feature_edges() -> set[tuple[str, str]]:
    """(feature, other feature) for every service import between features."""
    edges = set()
    for source, path in app_modules().items():
        src = layer(source)
        if not src.startswith("feature:"):
            continue
        for imp in imports_of(source, ast.parse(path.read_text()), is_package=path.name == "__init__.py"):
            dst = layer(imp.target)
            if dst.startswith("feature:") and dst != src:
                edges.add((src.split(":")[1], dst.split(":")[1]))
    return edges


# --- The tests ---------------------------------------------------------------------------------------------------


class TestArchitecture:
    def test_every_module_keeps_the_layer_rules(self) -> None:
        problems = [
            problem
            for source, path in app_modules().items()
            for problem in check(source, path.read_text(), is_package=path.name == "__init__.py")
        ]
        assert problems == []

    def test_features_reach_each_other_without_cycles(self) -> None:
        graph: dict[str, set[str]] = {}
        for a, b in feature_edges():
            graph.setdefault(a, set()).add(b)

        def reaches(start: str, goal: str, seen: set[str]) -> bool:
            for nxt in graph.get(start, set()) - seen:
                if nxt == goal or reaches(nxt, goal, seen | {nxt}):
                    return True
            return False

        assert sorted(f for f in graph if reaches(f, f, set())) == []

    def test_every_exception_is_still_needed(self) -> None:
        present = {
            (imp.source, imp.target)
            for source, path in app_modules().items()
            for imp in imports_of(source, ast.parse(path.read_text()), is_package=path.name == "__init__.py")
        }
        assert (EXCEPTIONS) - present == set()

    def test_every_allowlisted_name_exists(self) -> None:
        for module, name in READ_SIDE_ALLOWLIST:
            tree = ast.parse((APP.parent / Path(*module.split("."))).with_suffix(".py").read_text())
            defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            defined |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
            defined |= {
                t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
            }
            assert name in defined, (module, name)


class TestChecker:
    """The checker itself catches what it should, on synthetic sources."""

    @pytest.mark.parametrize(
        ("source", "text"),
        [
            ("app.customers.views", "from app.ledger.service import arr_as_of\n"),  # a name, not the module
            ("app.customers.views", "from app.ledger import ingest\n"),  # another feature's internals
            ("app.interventions.recommend", "from app.metrics import roi\n"),  # a feature reading the read side
            ("app.money", "from app.ledger import service as ledger\n"),  # plumbing importing a feature
            ("app.models.cost", "from app.costs import service\n"),  # a table importing a feature
            ("app.metrics.roi", "from app.health import churn\n"),  # the read side reaching a feature's internals
            ("app.ledger.service", "from app import cli\n"),  # an edge imported by a feature
        ],
    )
    def test_a_forbidden_import_is_caught(self, source: str, text: str) -> None:
        assert check(source, text) != []

    def test_a_read_side_call_outside_the_allowlist_is_caught(self) -> None:
        text = "from app.interventions import service as interventions\n\ninterventions.today()\n"
        assert check("app.metrics.roi", text) == [
            "app.metrics.roi:3 uses app.interventions.service.today: not in READ_SIDE_ALLOWLIST"
        ]

    @pytest.mark.parametrize(
        ("source", "text"),
        [
            ("app.customers.views", "from app.ledger import service as ledger\n"),
            ("app.customers.views", "from app.customers import service\nfrom app.money import from_cents\n"),
            ("app.metrics.health", "from app.ledger import service as ledger\n\nledger.arr_as_of\n"),
            ("app.scorecard.figures", "from app.metrics import roi\n"),
            ("app.cli", "from app.health import churn\n"),
        ],
    )
    def test_an_allowed_import_passes(self, source: str, text: str) -> None:
        assert check(source, text) == []
