"""The ``socialhealth`` command line.

::

    socialhealth report --dataset demo --output report.html
    socialhealth report --dataset gss_panel20 --path gss_panel20.dta --wave 2020 \\
        --exposure "ucla3_isolated>=3" --format pdf --output gss.pdf
    socialhealth datasets
    socialhealth describe --dataset ess --path ESS7GB.sav

Errors print one line (``socialhealth: error: ...``) and exit with status 2 (bad usage) or 1
(the data or the request cannot be processed); ``--debug`` shows the traceback instead. On a
terminal, long steps show a progress bar on standard error.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

PROG = "socialhealth"
FORMATS = ("html", "md", "pdf")
EXIT_DATA, EXIT_USAGE = 1, 2


class UsageError(Exception):
    """Bad command-line usage (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) and exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UsageError(f"{message} (see '{self.prog} --help')")


class Progress:
    """A one-line progress bar on standard error, drawn only on a terminal.

    Each call starts a step (``progress("loading gss_panel20")``); while a step runs, a
    background thread redraws the line with a spinner and the elapsed time, so that long steps
    (reading a large file, replicate-weight variances) visibly progress.
    """

    SPIN = "|/-\\"

    def __init__(self, total: int, stream=None, enabled: bool | None = None):
        import threading

        self.stream = stream or sys.stderr
        self.enabled = (self.stream.isatty() if hasattr(self.stream, "isatty") else False) \
            if enabled is None else enabled
        self.total = max(1, total)
        self.done = 0
        self.message = ""
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._tick = 0

    def _draw(self) -> None:
        width = 24
        filled = int(width * self.done / self.total)
        bar = "#" * filled + "-" * (width - filled)
        spin = self.SPIN[self._tick % len(self.SPIN)]
        line = (f"\r[{bar}] {self.done}/{self.total} {spin} "
                f"{time.monotonic() - self.t0:5.1f}s {self.message}")
        self.stream.write(line[:100].ljust(100))
        self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            with self._lock:
                self._tick += 1
                self._draw()

    def __call__(self, message: str) -> None:
        self.done = min(self.total, self.done + 1)
        self.message = message
        if not self.enabled:
            return
        with self._lock:
            self._draw()
        if self._thread is None:
            import threading

            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def substep(self, message: str) -> None:
        """Show progress inside the current step without advancing the bar."""
        self.message = message
        if self.enabled:
            with self._lock:
                self._draw()

    def write_line(self, text: str) -> None:
        """Print a line (e.g. a warning) without garbling the bar."""
        with self._lock:
            if self.enabled:
                self.stream.write("\r" + " " * 100 + "\r")
            print(text, file=sys.stderr)

    def close(self) -> None:
        """Stop the spinner thread and clear the progress line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self.enabled:
            with self._lock:
                self.stream.write("\r" + " " * 100 + "\r")
                self.stream.flush()


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands ``report``, ``datasets``, ``describe``)."""
    from socialhealth import __version__

    p = _Parser(prog=PROG, description="Loneliness, social connection and health from public "
                "surveys, with design-based estimates that match R's survey package.")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="{report,datasets,describe}", parser_class=_Parser)

    def data_args(sp):
        sp.add_argument("--dataset", required=True, metavar="NAME",
                        help="registry name (see 'socialhealth datasets'), e.g. demo, gss_panel20, ess")
        sp.add_argument("--path", metavar="FILE", help="the survey file (needed for real surveys)")
        sp.add_argument("--wave", metavar="WAVE", help="year or wave, e.g. 2020 for gss_panel20")
        sp.add_argument("--min-age", type=int, metavar="YEARS",
                        help="keep respondents aged YEARS and over, e.g. 18 for adults (the "
                             "others are dropped and counted; default: the survey's population)")
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks on errors")

    r = sub.add_parser("report", help="write the loneliness-and-health report of a survey",
                       description="Write one self-contained report (HTML with embedded "
                       "figures, Markdown or PDF).")
    data_args(r)
    r.add_argument("--output", "-o", metavar="FILE",
                   help="output file (default: report.<format>)")
    r.add_argument("--format", choices=FORMATS,
                   help="html, md or pdf (default: from the output extension, else html)")
    r.add_argument("--exposure", default="lonely", metavar="COL",
                   help="yes/no exposure column or condition, e.g. lonely (default) or "
                        "'ucla3_isolated>=3'")
    r.add_argument("--outcomes", metavar="A,B,...",
                   help="comma-separated yes/no health outcomes (default: all the survey measures)")
    r.add_argument("--ci-method", default="logit", metavar="METHOD",
                   help="interval method for proportions, as R svyciprop (default logit)")

    sub.add_parser("datasets", help="list the dataset registry",
                   description="List every registered survey.").add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    dsc = sub.add_parser("describe", help="print a survey's design summary and codebook",
                         description="Print the design summary and the codebook of a survey.")
    data_args(dsc)
    return p


# ----------------------------------------------------------------------------- commands
def _load(args, progress: Progress | None = None):
    from socialhealth import datasets

    name = args.dataset
    kwargs = {}
    if args.wave is not None:
        kwargs["wave"] = int(args.wave) if str(args.wave).isdigit() else args.wave
    if getattr(args, "min_age", None) is not None:
        kwargs["min_age"] = args.min_age
    if name == "demo":
        if args.path:
            raise UsageError("the demo dataset is generated by socialhealth and takes no --path.")
        if args.wave is not None:
            raise UsageError("the demo dataset has no waves; leave out --wave.")
        path = None
    else:
        path = args.path
        if path is not None and not Path(path).exists():
            from socialhealth.errors import SurveyFileError

            raise SurveyFileError(f"file not found: {path}. Check the --path argument.")
    if progress is not None:
        progress(f"loading {name}" + (f" from {Path(path).name}" if path else ""))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sd = datasets.load(name, path=path, **kwargs)
    for w in caught:
        from socialhealth.errors import SocialHealthWarning

        if issubclass(w.category, SocialHealthWarning):
            _warn(str(w.message), progress)
    return sd


def _warn(message: str, progress: Progress | None = None) -> None:
    text = f"{PROG}: warning: {message}"
    if progress is not None:
        progress.write_line(text)
    else:
        print(text, file=sys.stderr)


def cmd_report(args) -> int:
    """``socialhealth report``: load the dataset, build the report, write it; returns the exit code.

    Example: ``socialhealth report --dataset demo --output report.html``.
    """
    from socialhealth import report

    fmt = args.format
    out = Path(args.output) if args.output else None
    if fmt is None:
        suffix = out.suffix.lower().lstrip(".") if out else ""
        fmt = {"markdown": "md", "htm": "html"}.get(suffix, suffix)
        if fmt not in FORMATS:
            if out is not None and suffix:
                raise UsageError(f"cannot tell the format from the extension '.{suffix}' of "
                                 f"{out}; add --format html, md or pdf.")
            fmt = "html"
    if out is None:
        out = Path(f"report.{fmt}")
    if out.parent and not out.parent.exists():
        raise UsageError(f"the output folder {out.parent} does not exist.")
    progress = Progress(total=8)
    try:
        sd = _load(args, progress)
        rep = report.build(sd, exposure=args.exposure, outcomes=args.outcomes,
                           ci_method=args.ci_method, progress=progress)
        progress(f"writing {out.name}")
        rep.save(out, format=fmt)
    finally:
        progress.close()
    skipped = [s for s in rep.sections if not s.ok]
    print(f"wrote {out} ({fmt}; {len(rep.sections) - len(skipped)} of {len(rep.sections)} "
          "sections filled)")
    for s in skipped:
        print(f"  skipped {s.title}: {s.reason}")
    return 0


def cmd_datasets(args) -> int:
    """``socialhealth datasets``: print the registry (name, access, years, loader status).

    Example: ``socialhealth datasets``.
    """
    from socialhealth import datasets

    df = datasets.list()
    cols = [c for c in ("name", "title", "country", "years", "access", "loader_status")
            if c in df.columns]
    shown = df[cols].copy()
    for c, width in (("title", 52), ("country", 12), ("years", 24)):
        if c in shown.columns:
            shown[c] = [v if len(str(v)) <= width else str(v)[: width - 3] + "..."
                        for v in shown[c].astype(str)]
    print(shown.to_string(index=False))
    print("\nOpen surveys load with --path FILE (or after datasets.fetch); registration / "
          "licensed surveys need the file you obtained: --path FILE.")
    return 0


def cmd_describe(args) -> int:
    """``socialhealth describe``: print a dataset's design summary and codebook.

    Example: ``socialhealth describe --dataset gss_panel20 --path gss_panel20.dta --wave 2020``.
    """
    progress = Progress(total=1)
    try:
        sd = _load(args, progress)
    finally:
        progress.close()
    print(sd)
    print()
    print(sd.design.describe())
    notes = (getattr(sd, "provenance", {}) or {}).get("design")
    if notes:
        print(f"  design note: {notes}")
    pop = (getattr(sd, "provenance", {}) or {}).get("population") or {}
    if pop.get("description"):
        print(f"  population: {pop['description']} (minimum age {pop.get('min_age')})")
    print("\nWhat the file gave, per harmonised concept (answered / missing among the "
          f"{len(sd.data)} rows kept; missing codes counted over the rows read)")
    import shutil
    import textwrap

    from socialhealth.datasets._concepts import concept_problems

    width = max(60, min(120, shutil.get_terminal_size((100, 20)).columns))
    for _, row in sd.concept_summary().iterrows():
        src = row["source_variables"]
        if row["n_answered"]:
            head = (f"{row['concept']}: {row['n_answered']} answered, {row['n_missing']} missing"
                    + (f"  (from {src})" if src else ""))
        else:
            head = f"{row['concept']}: NOT MEASURED" + (f"  (source {src})" if src else "")
        print(head)
        lines = []
        if row["n_answered"] and row["rule"]:
            lines.append(f"rule: {row['rule']}")
        if row["missing_by_code"]:
            codes = "; ".join(f"{var} " + ", ".join(f"{code}: {k}" for code, k in counts.items())
                              for var, counts in row["missing_by_code"].items())
            lines.append(f"missing codes: {codes}")
        if row["unmapped_codes"]:
            lines.append("UNMAPPED codes (not in the codebook, set to missing): "
                         + ", ".join(f"{code}: {k}" for code, k in row["unmapped_codes"].items()))
        note = row["notes"].strip()
        if note and note != "not measured":
            lines.append(f"note: {note}")
        for text in lines:
            print(textwrap.fill(text, width, initial_indent="    ", subsequent_indent="      "))
    problems = concept_problems(sd)
    if problems:
        print(f"\n{len(problems)} concept(s) not accounted for by the codebook:")
        for text in problems:
            print(textwrap.fill(text, width, initial_indent="  - ", subsequent_indent="    "))
    return 0


COMMANDS = {"report": cmd_report, "datasets": cmd_datasets, "describe": cmd_describe}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 data error, 2 usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not args.command:
            raise UsageError("choose a command: report, datasets or describe "
                             f"(see '{PROG} --help')")
        return COMMANDS[args.command](args)
    except UsageError as e:
        if debug:
            raise
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. 'socialhealth datasets | head'
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_DATA
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - one line for users; --debug for the traceback
        if debug:
            raise
        from socialhealth.errors import SocialHealthError

        msg = " ".join(str(e).split())
        if isinstance(e, SocialHealthError):
            from socialhealth.errors import DataNotCachedError, LicensedDataError

            if isinstance(e, (LicensedDataError, DataNotCachedError)):
                msg += " On the command line: add --path FILE."
            print(f"{PROG}: error: {msg}", file=sys.stderr)
        elif isinstance(e, OSError):
            print(f"{PROG}: error: {e.strerror or msg}: {e.filename or ''}".rstrip(": "),
                  file=sys.stderr)
        else:
            print(f"{PROG}: error: {type(e).__name__}: {msg} (this is a bug in socialhealth; "
                  "rerun with --debug and report the traceback)", file=sys.stderr)
        return EXIT_DATA


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
